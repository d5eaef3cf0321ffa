package org.transcend.stages.io;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.schemas.DType;
import org.transcend.schemas.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/** The one tensor encoding of the handoffs: converts between Avro {@link Tensor} records and ND4J arrays. */
public final class Tensors {
    private Tensors() {}

    public static Tensor uint8(byte[] data, long... shape) {
        checkCount(data.length, shape);
        return new Tensor(boxed(shape), DType.UINT8, ByteBuffer.wrap(data));
    }

    /** Encodes a floating array as FLOAT32, FLOAT16 or FLOAT64 little-endian bytes. */
    public static Tensor encode(INDArray a, DType dtype) {
        int n = (int) a.length();
        float[] f = dtype == DType.FLOAT64 ? null : a.castTo(DataType.FLOAT).dup('c').reshape(n).toFloatVector();
        ByteBuffer b;
        switch (dtype) {
            case FLOAT32 -> {
                b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(f);
            }
            case FLOAT16 -> {
                b = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : f) b.putShort((short) org.bytedeco.javacpp.indexer.HalfIndexer.fromFloat(v));
                b.flip();
            }
            case FLOAT64 -> {
                b = ByteBuffer.allocate(8 * n).order(ByteOrder.LITTLE_ENDIAN);
                b.asDoubleBuffer().put(a.castTo(DataType.DOUBLE).dup('c').reshape(n).toDoubleVector());
            }
            default -> throw new IllegalArgumentException("encode writes floating tensors; got " + dtype
                    + ", accepted: FLOAT32, FLOAT16, FLOAT64");
        }
        return new Tensor(boxed(a.shape()), dtype, ByteBuffer.wrap(b.array()));
    }

    /** Decodes any tensor to an ND4J array: floating types as FLOAT32 (FLOAT64 kept), UINT8 as FLOAT32 values 0..255. */
    public static INDArray decode(Tensor t) {
        long[] shape = shape(t);
        ByteBuffer b = t.getData().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = Math.toIntExact(count(shape));
        checkCount(b.remaining() / width(t.getDtype()), shape);
        float[] f = new float[n];
        switch (t.getDtype()) {
            case FLOAT32 -> b.asFloatBuffer().get(f);
            case FLOAT16 -> {
                for (int i = 0; i < n; i++) f[i] = org.bytedeco.javacpp.indexer.HalfIndexer.toFloat(b.getShort() & 0xFFFF);
            }
            case FLOAT64 -> {
                double[] d = new double[n];
                b.asDoubleBuffer().get(d);
                return Nd4j.create(d, shape, DataType.DOUBLE);
            }
            case UINT8 -> {
                for (int i = 0; i < n; i++) f[i] = b.get() & 0xFF;
            }
            case INT32 -> {
                for (int i = 0; i < n; i++) f[i] = b.getInt();
            }
            case INT64 -> {
                for (int i = 0; i < n; i++) f[i] = b.getLong();
            }
        }
        return Nd4j.create(f, shape, 'c');
    }

    /**
     * Decodes a tensor that must hold only finite numbers, as data entering a stage from another must: a NaN or an
     * infinity is refused with {@code what} (the record it came from) and the first bad element named.
     */
    public static INDArray decodeFinite(Tensor t, Supplier<String> what) {
        INDArray a = decode(t);
        if (a.isNaN().any() || a.isInfinite().any()) {
            double[] v = a.castTo(DataType.DOUBLE).reshape(a.length()).toDoubleVector();
            int i = 0;
            while (Double.isFinite(v[i])) i++;
            throw new IllegalArgumentException(what.get() + " holds " + v[i] + " at element " + i + " of " + Arrays.toString(a.shape())
                    + "; accepted: finite numbers only");
        }
        return a;
    }

    /** The raw bytes of a UINT8 tensor. */
    public static byte[] bytes(Tensor t) {
        if (t.getDtype() != DType.UINT8) throw new IllegalArgumentException("expected a UINT8 tensor, got " + t.getDtype());
        ByteBuffer b = t.getData().duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    public static long[] shape(Tensor t) {
        return t.getShape().stream().mapToLong(Long::longValue).toArray();
    }

    /** True when every element is finite; integer tensors always are. */
    public static boolean allFinite(Tensor t) {
        if (t.getDtype() == DType.UINT8 || t.getDtype() == DType.INT32 || t.getDtype() == DType.INT64) return true;
        INDArray a = decode(t);
        return !a.isInfinite().any() && !a.isNaN().any();
    }

    private static int width(DType d) {
        return switch (d) {
            case UINT8 -> 1;
            case FLOAT16 -> 2;
            case FLOAT32, INT32 -> 4;
            case FLOAT64, INT64 -> 8;
        };
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long s : shape) n = Math.multiplyExact(n, s);
        return n;
    }

    private static void checkCount(long elements, long[] shape) {
        if (elements != count(shape)) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " needs " + count(shape)
                    + " elements but holds " + elements);
        }
    }

    private static List<Long> boxed(long[] shape) {
        List<Long> l = new ArrayList<>(shape.length);
        for (long s : shape) l.add(s);
        return l;
    }
}
