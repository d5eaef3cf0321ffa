package org.transcend.model.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.javacpp.indexer.HalfIndexer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.PausePoint;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the raw little-endian data. It is the one
 * weights format of the project, so every check on a hostile file lives here.
 */
public final class Safetensors {

    /** Headers larger than this are refused before anything is allocated (the format's own limit). */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final ObjectMapper JSON = new ObjectMapper();

    private Safetensors() {}

    /** The element types this project reads and writes. */
    public enum Dtype {
        F64(8, DataType.DOUBLE), F32(4, DataType.FLOAT), F16(2, DataType.HALF), BF16(2, DataType.BFLOAT16),
        I64(8, DataType.LONG), I32(4, DataType.INT), U8(1, DataType.UBYTE);

        public final int bytes;
        public final DataType nd4j;

        Dtype(int bytes, DataType nd4j) {
            this.bytes = bytes;
            this.nd4j = nd4j;
        }

        static Dtype parse(String name, String tensor, Path file) {
            try {
                return valueOf(name);
            } catch (IllegalArgumentException e) {
                throw new WeightsFileException(file, "tensor '" + tensor + "' has dtype " + name
                        + "; accepted: " + Arrays.toString(values()));
            }
        }
    }

    /** A file's tensors in header order plus its free-form string metadata. */
    public record Contents(Map<String, INDArray> tensors, Map<String, String> metadata) {
        /** The tensor of that name, or an error naming it and the file's tensor count. */
        public INDArray require(String name) {
            INDArray a = tensors.get(name);
            if (a == null) {
                throw new IllegalArgumentException("missing tensor '" + name + "' (the file has " + tensors.size() + " tensors)");
            }
            return a;
        }
    }

    /**
     * Reads every tensor. Floating-point tensors of any width are returned as FLOAT32 (the compute type of
     * the networks here) unless {@code keepDtype}; integer tensors keep their type.
     */
    public static Contents read(Path file) throws IOException {
        return read(file, false);
    }

    public static Contents read(Path file, boolean keepDtype) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Header h = header(ch, file);
            Map<String, INDArray> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, Entry> e : h.entries().entrySet()) {
                Entry en = e.getValue();
                ByteBuffer data = ByteBuffer.allocate((int) (en.end - en.begin)).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, data, h.dataStart() + en.begin);
                data.flip();
                tensors.put(e.getKey(), decode(en, data, keepDtype));
            }
            return new Contents(tensors, h.metadata());
        }
    }

    /**
     * The shape of every tensor of a file, in header order, from its validated header alone: no tensor data is
     * read, so a file can be checked against the network it should fit before anything the size of its tensors
     * is allocated.
     */
    public static Map<String, long[]> shapes(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Map<String, long[]> out = new LinkedHashMap<>();
            header(ch, file).entries().forEach((name, e) -> out.put(name, e.shape().clone()));
            return out;
        }
    }

    private record Header(Map<String, Entry> entries, Map<String, String> metadata, long dataStart) {}

    /** Reads and checks the header; every entry is validated before the caller allocates anything for it. */
    private static Header header(FileChannel ch, Path file) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new WeightsFileException(file, "file is " + size + " bytes, shorter than the 8-byte header length");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long headerLen = lenBuf.flip().getLong();
        if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || headerLen > size - 8) {
            throw new WeightsFileException(file, "declared header length " + headerLen + " bytes; accepted: 1 to "
                    + Math.min(MAX_HEADER_BYTES, size - 8) + " for a file of " + size + " bytes");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
        readFully(ch, headerBuf, 8);
        String headerText = new String(headerBuf.array(), StandardCharsets.UTF_8);
        JsonNode header;
        try {
            header = JSON.readTree(headerText);
        } catch (JsonProcessingException e) {
            throw new WeightsFileException(file, "header is not JSON: " + e.getOriginalMessage());
        }
        if (header == null || !header.isObject()) {
            throw new WeightsFileException(file, "header must be a JSON object of tensors");
        }
        long dataStart = 8 + headerLen;
        long dataLen = size - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (f.getKey().equals("__metadata__")) {
                f.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            entries.put(f.getKey(), Entry.parse(f.getKey(), f.getValue(), dataLen, file));
        }
        return new Header(entries, metadata, dataStart);
    }

    private record Entry(String name, Dtype dtype, long[] shape, long begin, long end) {
        static Entry parse(String name, JsonNode node, long dataLen, Path file) {
            if (!node.isObject() || !node.has("dtype") || !node.has("shape") || !node.has("data_offsets")) {
                throw new WeightsFileException(file, "tensor '" + name + "' needs dtype, shape and data_offsets");
            }
            Dtype dtype = Dtype.parse(node.get("dtype").asText(), name, file);
            JsonNode s = node.get("shape");
            long[] shape = new long[s.size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = s.get(i).asLong(-1);
                if (shape[i] < 0 || shape[i] > Integer.MAX_VALUE) {
                    throw new WeightsFileException(file, "tensor '" + name + "' has dimension " + s.get(i) + " in shape " + s);
                }
                count = Math.multiplyExact(count, shape[i]);
            }
            JsonNode o = node.get("data_offsets");
            long begin = o.get(0).asLong(-1), end = o.get(1).asLong(-1);
            if (begin < 0 || end < begin || end > dataLen) {
                throw new WeightsFileException(file, "tensor '" + name + "' data_offsets [" + begin + ", " + end
                        + "] lie outside the data section of " + dataLen + " bytes");
            }
            if (end - begin != count * dtype.bytes) {
                throw new WeightsFileException(file, "tensor '" + name + "' of shape " + Arrays.toString(shape) + " " + dtype
                        + " needs " + count * dtype.bytes + " bytes but its byte range holds " + (end - begin));
            }
            if (end - begin > Integer.MAX_VALUE - 16) {
                throw new WeightsFileException(file, "tensor '" + name + "' is over 2 GiB, which one tensor here cannot hold");
            }
            return new Entry(name, dtype, shape, begin, end);
        }
    }

    private static INDArray decode(Entry en, ByteBuffer data, boolean keepDtype) {
        int n = (int) ((en.end - en.begin) / en.dtype.bytes);
        long[] shape = en.shape;
        switch (en.dtype) {
            case F64 -> {
                double[] v = new double[n];
                data.asDoubleBuffer().get(v);
                INDArray a = Nd4j.create(v, shape, DataType.DOUBLE);
                return keepDtype ? a : a.castTo(DataType.FLOAT);
            }
            case F32 -> {
                float[] v = new float[n];
                data.asFloatBuffer().get(v);
                return Nd4j.create(v, shape, 'c');
            }
            case F16, BF16 -> {
                float[] v = new float[n];
                for (int i = 0; i < n; i++) {
                    int bits = data.getShort() & 0xFFFF;
                    v[i] = en.dtype == Dtype.F16 ? HalfIndexer.toFloat(bits) : Float.intBitsToFloat(bits << 16);
                }
                INDArray a = Nd4j.create(v, shape, 'c');
                return keepDtype ? a.castTo(en.dtype.nd4j) : a;
            }
            case I64 -> {
                long[] v = new long[n];
                data.asLongBuffer().get(v);
                return Nd4j.createFromArray(v).reshape(shape);
            }
            case I32 -> {
                int[] v = new int[n];
                data.asIntBuffer().get(v);
                return Nd4j.createFromArray(v).reshape(shape);
            }
            case U8 -> {
                byte[] v = new byte[n];
                data.get(v);
                return Nd4j.createFromArray(v).castTo(DataType.UBYTE).reshape(shape);
            }
            default -> throw new IllegalStateException(en.dtype.toString());
        }
    }

    /**
     * Writes the tensors in the given order. Floating tensors are stored as {@code floatType} (F32, F16 or F64);
     * integer tensors keep their type. The file is written beside the target and renamed, so a reader never sees
     * half a file.
     */
    public static void write(Path file, Map<String, INDArray> tensors, Map<String, String> metadata, Dtype floatType)
            throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        Map<String, Dtype> types = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
            Dtype dt = storedType(e.getValue(), floatType);
            types.put(e.getKey(), dt);
            long bytes = e.getValue().length() * dt.bytes;
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", dt.name());
            var shape = t.putArray("shape");
            for (long d : e.getValue().shape()) shape.add(d);
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] headerBytes = JSON.writeValueAsBytes(header);
        int pad = (8 - headerBytes.length % 8) % 8; // keeps the data section 8-byte aligned, as the reference writer does
        byte[] padded = Arrays.copyOf(headerBytes, headerBytes.length + pad);
        Arrays.fill(padded, headerBytes.length, padded.length, (byte) ' ');
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempFile(parent, "." + file.getFileName(), ".partial");
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length);
            out.write(len.array());
            out.write(padded);
            int written = 0;
            for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
                out.write(encode(e.getValue(), types.get(e.getKey())));
                if (++written == tensors.size() / 2) {
                    out.flush();
                    PausePoint.reach("weights-write");
                }
            }
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static Dtype storedType(INDArray a, Dtype floatType) {
        DataType t = a.dataType();
        if (t.isFPType()) return floatType;
        return switch (t) {
            case LONG -> Dtype.I64;
            case INT -> Dtype.I32;
            case UBYTE -> Dtype.U8;
            default -> throw new IllegalArgumentException("cannot store a tensor of type " + t
                    + "; accepted: floating types, LONG, INT, UBYTE");
        };
    }

    private static byte[] encode(INDArray a, Dtype dt) {
        int n = (int) a.length();
        ByteBuffer b = ByteBuffer.allocate(n * dt.bytes).order(ByteOrder.LITTLE_ENDIAN);
        INDArray flat = a.dup('c').reshape(n);
        switch (dt) {
            case F64 -> b.asDoubleBuffer().put(flat.castTo(DataType.DOUBLE).toDoubleVector());
            case F32 -> b.asFloatBuffer().put(flat.castTo(DataType.FLOAT).toFloatVector());
            case F16 -> {
                for (float f : flat.castTo(DataType.FLOAT).toFloatVector()) b.putShort((short) HalfIndexer.fromFloat(f));
            }
            case BF16 -> {
                for (float f : flat.castTo(DataType.FLOAT).toFloatVector()) b.putShort((short) (Float.floatToIntBits(f) >>> 16));
            }
            case I64 -> b.asLongBuffer().put(flat.toLongVector());
            case I32 -> b.asIntBuffer().put(flat.toIntVector());
            case U8 -> {
                for (int v : flat.castTo(DataType.INT).toIntVector()) b.put((byte) v);
            }
        }
        return b.array();
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos);
            if (r < 0) throw new IOException("unexpected end of file at byte " + pos);
            pos += r;
        }
    }
}
