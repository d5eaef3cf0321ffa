package org.transcend.stages.io;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * NumPy's {@code .npz} files (a zip of {@code .npy} files, as {@code np.savez} writes them), for ADM-style sample
 * batches and reference statistics: little-endian float32, float64, uint8 and int64 arrays in C order.
 *
 * <p>Written here rather than taken from a library: ND4J's own npy reader ignores {@code fortran_order} (the
 * array comes back silently transposed) and aborts the JVM on a big-endian header, and the one npz library on
 * Maven Central (org.jetbrains.bio:npy, Kotlin) has had no release since 2021. Anything outside the accepted
 * layout is rejected with an error naming the file, the array and what is accepted.
 */
public final class Npz {
    private Npz() {}

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    /** The element types accepted, with NumPy's descriptor and the width in bytes. */
    public enum Dtype {
        FLOAT32("<f4", 4, DataType.FLOAT), FLOAT64("<f8", 8, DataType.DOUBLE), UINT8("|u1", 1, DataType.UBYTE),
        INT64("<i8", 8, DataType.LONG);

        public final String descr;
        public final int width;
        final DataType nd4j;

        Dtype(String descr, int width, DataType nd4j) {
            this.descr = descr;
            this.width = width;
            this.nd4j = nd4j;
        }

        static Dtype ofDescr(String descr, String where) {
            for (Dtype d : values()) if (d.descr.equals(descr) || (d == UINT8 && descr.equals("<u1"))) return d;
            throw new IllegalArgumentException(where + " has dtype '" + descr + "'; accepted: "
                    + Arrays.stream(values()).map(d -> d.descr).toList() + " (little-endian)");
        }

        static Dtype of(DataType t) {
            for (Dtype d : values()) if (d.nd4j == t) return d;
            throw new IllegalArgumentException("an npz array cannot hold ND4J " + t + "; accepted: FLOAT, DOUBLE, UBYTE, LONG");
        }
    }

    /**
     * One array: element type, shape and its elements as little-endian bytes in C order. The bytes are not
     * copied; a record's {@code equals} compares them by identity, as for any array component.
     */
    public record Array(Dtype dtype, long[] shape, byte[] data) {
        public Array {
            long n = elements(shape);
            if (n * dtype.width != data.length) {
                throw new IllegalArgumentException("a " + dtype + " array of shape " + Arrays.toString(shape) + " needs "
                        + n * dtype.width + " bytes, got " + data.length);
            }
        }

        /** uint8 pixels, e.g. ADM's {@code arr_0} [N, H, W, C]. */
        public static Array uint8(byte[] data, long... shape) {
            return new Array(Dtype.UINT8, shape, data);
        }

        /** A 1-d int64 array, e.g. ADM's {@code arr_1} labels. */
        public static Array int64(long... values) {
            ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asLongBuffer().put(values);
            return new Array(Dtype.INT64, new long[]{values.length}, b.array());
        }

        /** A float64 array of the given shape. */
        public static Array float64(double[] values, long... shape) {
            ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asDoubleBuffer().put(values);
            return new Array(Dtype.FLOAT64, shape, b.array());
        }

        /** An ND4J FLOAT, DOUBLE, UBYTE or LONG array, in C order. */
        public static Array of(INDArray a) {
            Dtype dtype = Dtype.of(a.dataType());
            int n = Math.toIntExact(a.length());
            INDArray flat = a.dup('c').reshape(n);
            ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(n, dtype.width)).order(ByteOrder.LITTLE_ENDIAN);
            switch (dtype) {
                case FLOAT32 -> b.asFloatBuffer().put(flat.toFloatVector());
                case FLOAT64 -> b.asDoubleBuffer().put(flat.toDoubleVector());
                case INT64 -> b.asLongBuffer().put(flat.toLongVector());
                case UINT8 -> {
                    for (int i = 0; i < n; i++) b.put((byte) flat.getInt(i));
                }
            }
            return new Array(dtype, a.shape(), b.array());
        }

        /** The elements as doubles (every accepted type converts exactly, int64 up to 2^53). */
        public double[] asDoubles() {
            ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            double[] out = new double[Math.toIntExact(elements(shape))];
            for (int i = 0; i < out.length; i++) {
                out[i] = switch (dtype) {
                    case FLOAT32 -> b.getFloat();
                    case FLOAT64 -> b.getDouble();
                    case UINT8 -> b.get() & 0xFF;
                    case INT64 -> b.getLong();
                };
            }
            return out;
        }

        /** The array in ND4J with the matching type (uint8 as UBYTE). */
        public INDArray toINDArray() {
            ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            int n = Math.toIntExact(elements(shape));
            return switch (dtype) {
                case FLOAT32 -> {
                    float[] f = new float[n];
                    b.asFloatBuffer().get(f);
                    yield Nd4j.create(f, shape, 'c');
                }
                case FLOAT64 -> {
                    double[] d = new double[n];
                    b.asDoubleBuffer().get(d);
                    yield Nd4j.create(d, shape, 'c');
                }
                case INT64 -> {
                    long[] l = new long[n];
                    b.asLongBuffer().get(l);
                    yield Nd4j.createFromArray(l).reshape(shape);
                }
                case UINT8 -> {
                    INDArray u = Nd4j.create(DataType.UBYTE, shape, 'c');
                    INDArray flat = u.reshape(n);
                    for (int i = 0; i < n; i++) flat.putScalar(i, data[i] & 0xFF);
                    yield u;
                }
            };
        }
    }

    /** Writes the arrays, in the map's order, as {@code <name>.npy} entries stored uncompressed (as np.savez does). */
    public static void write(Path file, Map<String, Array> arrays) throws IOException {
        write(file, arrays, Map.of());
    }

    /**
     * Writes the arrays and then the 1-d text arrays ({@code <U}, as {@code np.array(list_of_str)} stores them), each
     * as a {@code <name>.npy} entry stored uncompressed, as np.savez does.
     */
    public static void write(Path file, Map<String, Array> arrays, Map<String, List<String>> texts) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        try (ZipOutputStream zip = new ZipOutputStream(new BufferedOutputStream(Files.newOutputStream(file)))) {
            for (Map.Entry<String, Array> e : arrays.entrySet()) {
                entry(zip, e.getKey(), header(e.getValue().dtype(), e.getValue().shape()), e.getValue().data());
            }
            for (Map.Entry<String, List<String>> e : texts.entrySet()) {
                List<String> values = e.getValue();
                int chars = Math.max(1, values.stream().mapToInt(v -> v.codePointCount(0, v.length())).max().orElse(1));
                ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.size(), chars * 4)).order(ByteOrder.LITTLE_ENDIAN);
                for (String v : values) {
                    int[] cps = v.codePoints().toArray();
                    for (int k = 0; k < chars; k++) b.putInt(k < cps.length ? cps[k] : 0);
                }
                entry(zip, e.getKey(), header("{'descr': '<U" + chars + "', 'fortran_order': False, 'shape': (" + values.size() + ",), }"),
                        b.array());
            }
        }
    }

    private static void entry(ZipOutputStream zip, String name, byte[] header, byte[] data) throws IOException {
        CRC32 crc = new CRC32();
        crc.update(header);
        crc.update(data);
        ZipEntry entry = new ZipEntry(name + ".npy");
        entry.setMethod(ZipEntry.STORED);
        entry.setSize((long) header.length + data.length);
        entry.setCompressedSize(entry.getSize());
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        zip.write(header);
        zip.write(data);
        zip.closeEntry();
    }

    /**
     * Reads the named arrays (every array when none is named), in file order. Only the named entries are read,
     * so the statistics of an ADM reference batch come without its gigabytes of images.
     */
    public static Map<String, Array> read(Path file, String... names) throws IOException {
        List<String> wanted = List.of(names);
        Map<String, Array> out = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            List<String> present = zip.stream().map(ZipEntry::getName).toList();
            for (String w : wanted) {
                if (!present.contains(w + ".npy")) {
                    throw new IllegalArgumentException(file + " has no array '" + w + "'; it holds "
                            + present.stream().map(n -> n.replaceFirst("\\.npy$", "")).toList());
                }
            }
            for (ZipEntry entry : zip.stream().toList()) {
                String name = entry.getName().replaceFirst("\\.npy$", "");
                if (!entry.getName().endsWith(".npy") || (!wanted.isEmpty() && !wanted.contains(name))) continue;
                try (InputStream in = zip.getInputStream(entry)) {
                    out.put(name, readNpy(in, file + " array '" + name + "'"));
                }
            }
        }
        return out;
    }

    /** One {@code .npy} stream: version 1, 2 or 3 header, then the elements. */
    static Array readNpy(InputStream in, String where) throws IOException {
        Header h = readHeader(in, where);
        Dtype dtype = Dtype.ofDescr(h.descr(), where);
        return new Array(dtype, h.shape(), readData(in, h, dtype.width, where));
    }

    /** What an {@code .npy} header says: the dtype descriptor and the shape (C order; Fortran order is refused). */
    private record Header(String descr, long[] shape) {}

    private static Header readHeader(InputStream in, String where) throws IOException {
        byte[] magic = in.readNBytes(8);
        if (magic.length < 8 || !Arrays.equals(Arrays.copyOf(magic, 6), MAGIC)) {
            throw new IllegalArgumentException(where + " is not an .npy array (no \\x93NUMPY magic)");
        }
        int major = magic[6];
        int headerLength;
        if (major == 1) {
            byte[] len = in.readNBytes(2);
            headerLength = (len[0] & 0xFF) | (len[1] & 0xFF) << 8;
        } else if (major == 2 || major == 3) {
            byte[] len = in.readNBytes(4);
            headerLength = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getInt();
        } else {
            throw new IllegalArgumentException(where + " has .npy format version " + major + "; accepted: 1, 2, 3");
        }
        String header = new String(in.readNBytes(headerLength), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher descr = DESCR.matcher(header), fortran = FORTRAN.matcher(header), shapeText = SHAPE.matcher(header);
        if (!descr.find() || !fortran.find() || !shapeText.find()) {
            throw new IllegalArgumentException(where + " has an unreadable .npy header: " + header.strip());
        }
        long[] shape = Arrays.stream(shapeText.group(1).split(",")).map(String::strip).filter(s -> !s.isEmpty())
                .mapToLong(Long::parseLong).toArray();
        if (fortran.group(1).equals("True") && shape.length > 1) {
            throw new IllegalArgumentException(where + " is stored in Fortran order; accepted: C order "
                    + "(np.ascontiguousarray before saving)");
        }
        return new Header(descr.group(1), shape);
    }

    private static byte[] readData(InputStream in, Header h, int width, String where) throws IOException {
        long bytes = elements(h.shape()) * width;
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(where + " holds " + bytes + " bytes; one array is limited to 2 GiB");
        }
        byte[] data = in.readNBytes((int) bytes);
        if (data.length != bytes) {
            throw new IllegalArgumentException(where + " is truncated: its shape " + Arrays.toString(h.shape()) + " needs "
                    + bytes + " bytes of " + h.descr() + ", found " + data.length);
        }
        return data;
    }

    private static final Pattern UNICODE = Pattern.compile("<U(\\d+)");
    private static final Pattern BYTES = Pattern.compile("\\|S(\\d+)");

    /**
     * A 1-d array of text, as {@code np.array(list_of_str)} makes it ({@code <U} fixed-width UTF-32) or as bytes
     * ({@code |S}, read as UTF-8); trailing NULs are padding and are dropped.
     */
    public static List<String> readStrings(Path file, String name) throws IOException {
        String where = file + " array '" + name + "'";
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry entry = zip.getEntry(name + ".npy");
            if (entry == null) {
                throw new IllegalArgumentException(file + " has no array '" + name + "'; it holds "
                        + zip.stream().map(e -> e.getName().replaceFirst("\\.npy$", "")).toList());
            }
            try (InputStream in = zip.getInputStream(entry)) {
                Header h = readHeader(in, where);
                Matcher unicode = UNICODE.matcher(h.descr()), bytes = BYTES.matcher(h.descr());
                boolean wide = unicode.matches();
                if (!wide && !bytes.matches()) {
                    throw new IllegalArgumentException(where + " has dtype '" + h.descr() + "'; accepted: text, '<U<n>' or '|S<n>'");
                }
                if (h.shape().length != 1) {
                    throw new IllegalArgumentException(where + " has shape " + Arrays.toString(h.shape()) + "; accepted: one dimension [N]");
                }
                int chars = Integer.parseInt(wide ? unicode.group(1) : bytes.group(1));
                int width = wide ? 4 * chars : chars;
                byte[] data = readData(in, h, width, where);
                List<String> out = new java.util.ArrayList<>();
                for (int i = 0; i < h.shape()[0]; i++) {
                    int end = width;
                    // padding is whole NUL characters at the end
                    while (end > 0 && isNul(data, i * width + end - (wide ? 4 : 1), wide)) end -= wide ? 4 : 1;
                    out.add(new String(data, i * width, end, wide ? java.nio.charset.Charset.forName("UTF-32LE") : StandardCharsets.UTF_8));
                }
                return out;
            }
        }
    }

    private static boolean isNul(byte[] data, int at, boolean wide) {
        if (!wide) return data[at] == 0;
        return data[at] == 0 && data[at + 1] == 0 && data[at + 2] == 0 && data[at + 3] == 0;
    }

    /**
     * The shape of one array, read from its header alone (the elements are not read), or empty when the file
     * has no such array.
     */
    public static java.util.Optional<long[]> shape(Path file, String name) throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry entry = zip.getEntry(name + ".npy");
            if (entry == null) return java.util.Optional.empty();
            try (InputStream in = zip.getInputStream(entry)) {
                return java.util.Optional.of(readHeader(in, file + " array '" + name + "'").shape());
            }
        }
    }

    /** A version 1.0 header, padded with spaces so the data starts at a multiple of 64 bytes, as NumPy pads it. */
    static byte[] header(Dtype dtype, long[] shape) {
        StringBuilder tuple = new StringBuilder("(");
        for (long s : shape) tuple.append(s).append(", ");
        if (shape.length == 1) tuple.setLength(tuple.length() - 1);
        else if (shape.length > 1) tuple.setLength(tuple.length() - 2);
        tuple.append(")");
        return header("{'descr': '" + dtype.descr + "', 'fortran_order': False, 'shape': " + tuple + ", }");
    }

    private static byte[] header(String dict) {
        int unpadded = MAGIC.length + 2 + 2 + dict.length() + 1;
        int padded = (unpadded + 63) / 64 * 64;
        String text = dict + " ".repeat(padded - unpadded) + "\n";
        ByteArrayOutputStream out = new ByteArrayOutputStream(padded);
        out.writeBytes(MAGIC);
        out.write(1);
        out.write(0);
        out.write(text.length() & 0xFF);
        out.write(text.length() >>> 8);
        out.writeBytes(text.getBytes(StandardCharsets.ISO_8859_1));
        return out.toByteArray();
    }

    private static long elements(long[] shape) {
        long n = 1;
        for (long s : shape) {
            if (s < 0) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative size");
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    /** Writes {@code arrays} to a file on any Beam file system (local, gs://). */
    public static void write(String path, Map<String, Array> arrays) throws IOException {
        Path staged = LocalCopies.staging(path);
        write(staged, arrays);
        LocalCopies.publish(staged, path);
    }

    /** Reads named arrays from a file on any Beam file system (local, gs://). */
    public static Map<String, Array> read(String path, String... names) throws IOException {
        return read(LocalCopies.fetch(path), names);
    }
}
