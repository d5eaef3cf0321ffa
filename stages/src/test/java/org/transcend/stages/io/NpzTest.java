package org.transcend.stages.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

class NpzTest {

    @TempDir
    Path tmp;

    @Test
    void everyDtypeAndShapeRoundTripsByteForByte() throws IOException {
        Map<String, Npz.Array> arrays = new LinkedHashMap<>();
        arrays.put("arr_0", Npz.Array.uint8(new byte[]{0, 1, (byte) 255, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 2, 2, 1, 3));
        arrays.put("arr_1", Npz.Array.int64(-3, 1L << 40));
        arrays.put("mu", Npz.Array.float64(new double[]{0.1, -2.5e300, Double.MIN_VALUE}, 3));
        arrays.put("scalar", Npz.Array.float64(new double[]{4.25}));
        arrays.put("f", Npz.Array.of(Nd4j.createFromArray(1.5f, -0.1f, 3f, 4f).reshape(2, 2)));
        Path file = tmp.resolve("a.npz");
        Npz.write(file, arrays);

        Map<String, Npz.Array> back = Npz.read(file);
        assertEquals(List.copyOf(arrays.keySet()), List.copyOf(back.keySet()));
        arrays.forEach((name, a) -> {
            Npz.Array b = back.get(name);
            assertEquals(a.dtype(), b.dtype(), name);
            assertArrayEquals(a.shape(), b.shape(), name);
            assertArrayEquals(a.data(), b.data(), name);
        });
        assertArrayEquals(new double[]{0.1, -2.5e300, Double.MIN_VALUE}, back.get("mu").asDoubles());
        assertArrayEquals(new double[]{-3, 1L << 40}, back.get("arr_1").asDoubles());
        assertArrayEquals(new double[]{0, 1, 255, 7}, java.util.Arrays.copyOf(back.get("arr_0").asDoubles(), 4));
    }

    @Test
    void everyHeaderIsVersionOneAndPadsTheDataToSixtyFourBytes() {
        for (long[] shape : new long[][]{{}, {3}, {2, 2, 1, 3}, {50000, 32, 32, 3}}) {
            byte[] h = Npz.header(Npz.Dtype.UINT8, shape);
            assertEquals(0, h.length % 64, java.util.Arrays.toString(shape));
            assertEquals(1, h[6]);
            assertEquals('\n', h[h.length - 1]);
        }
        String h = new String(Npz.header(Npz.Dtype.INT64, new long[]{2}), StandardCharsets.ISO_8859_1);
        assertTrue(h.contains("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }"), h);
    }

    @Test
    void aFileThatNumpySavezWroteReadsWithItsValues() throws IOException, URISyntaxException {
        // np.savez('numpy-savez.npz', mu=np.array([0.5, -1.25, 3.0]), sigma=np.array([[2.0, 0.5], [0.5, 1.0]]),
        //          arr_0=np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3), arr_1=np.array([3, -7], dtype=np.int64),
        //          f=np.array([1.5, -0.25], dtype=np.float32))   (NumPy 2.4)
        Path file = Path.of(getClass().getResource("/numpy-savez.npz").toURI());
        Map<String, Npz.Array> a = Npz.read(file);
        assertEquals(List.of("mu", "sigma", "arr_0", "arr_1", "f"), List.copyOf(a.keySet()));
        assertArrayEquals(new double[]{0.5, -1.25, 3.0}, a.get("mu").asDoubles());
        assertArrayEquals(new long[]{2, 2}, a.get("sigma").shape());
        assertArrayEquals(new double[]{2.0, 0.5, 0.5, 1.0}, a.get("sigma").asDoubles());
        assertEquals(Npz.Dtype.UINT8, a.get("arr_0").dtype());
        assertArrayEquals(new long[]{2, 2, 2, 3}, a.get("arr_0").shape());
        assertEquals(23, a.get("arr_0").data()[23]);
        assertArrayEquals(new double[]{3, -7}, a.get("arr_1").asDoubles());
        assertArrayEquals(new double[]{1.5, -0.25}, a.get("f").asDoubles());
        assertEquals(List.of("mu", "sigma"), List.copyOf(Npz.read(file, "sigma", "mu").keySet()));
    }

    @Test
    void aHandMadeNpzWithKnownBytesReads() throws IOException {
        // The elements 1.0 and -2.0 as little-endian float64: 00..F0 3F and 00..00 C0.
        byte[] data = {0, 0, 0, 0, 0, 0, (byte) 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0, (byte) 0xC0};
        Path file = zip("known.npz", "mu.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data));
        Npz.Array mu = Npz.read(file, "mu").get("mu");
        assertEquals(Npz.Dtype.FLOAT64, mu.dtype());
        assertArrayEquals(new double[]{1.0, -2.0}, mu.asDoubles());
    }

    @Test
    void fortranOrderBigEndianTruncatedAndMissingArraysAreRejectedByName() throws IOException {
        Path fortran = zip("f.npz", "x.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new byte[16]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npz.read(fortran));
        assertTrue(e.getMessage().contains("array 'x' is stored in Fortran order"), e.getMessage());

        Path big = zip("b.npz", "x.npy", npy("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", new byte[8]));
        e = assertThrows(IllegalArgumentException.class, () -> Npz.read(big));
        assertTrue(e.getMessage().contains("dtype '>f8'; accepted: [<f4, <f8, |u1, <i8]"), e.getMessage());

        Path cut = zip("c.npz", "x.npy", npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", new byte[20]));
        e = assertThrows(IllegalArgumentException.class, () -> Npz.read(cut));
        assertTrue(e.getMessage().contains("truncated: its shape [3] needs 24 bytes of <i8, found 20"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> Npz.read(cut, "mu"));
        assertTrue(e.getMessage().contains("has no array 'mu'; it holds [x]"), e.getMessage());
    }

    @Test
    void nd4jArraysConvertBothWaysWithTheirTypes() {
        INDArray u = Nd4j.create(new float[]{0, 200, 255, 3}, new long[]{2, 2}, 'c').castTo(DataType.UBYTE);
        INDArray l = Nd4j.createFromArray(5L, -6L);
        INDArray d = Nd4j.create(new double[]{0.25, 1e-300}, new long[]{1, 2}, 'c');
        for (INDArray a : List.of(u, l, d)) {
            INDArray back = Npz.Array.of(a).toINDArray();
            assertEquals(a.dataType(), back.dataType());
            assertEquals(a, back);
        }
        assertArrayEquals(new byte[]{0, (byte) 200, (byte) 255, 3}, Npz.Array.of(u).data());
    }

    /** Text as np.array(list_of_str) stores it (<U, UTF-32 padded with NULs) and as bytes (|S), with its shape from the header alone. */
    @Test
    void textArraysReadAsNumpyWritesThem() throws IOException {
        Path file = tmp.resolve("ids.npz");
        List<String> ids = List.of("fmnist-train-000042", "a", "é✓");
        Npz.write(file, Map.of("features", Npz.Array.float64(new double[]{1, 2, 3}, 3, 1, 1)), Map.of("ids", ids));
        assertEquals(ids, Npz.readStrings(file, "ids"));
        assertArrayEquals(new long[]{3, 1, 1}, Npz.shape(file, "features").orElseThrow());
        assertTrue(Npz.shape(file, "nothing").isEmpty());

        // the <U3 bytes of ['ab', 'xyz'] and the |S2 bytes of [b'ab', b'c']
        byte[] unicode = {'a', 0, 0, 0, 'b', 0, 0, 0, 0, 0, 0, 0, 'x', 0, 0, 0, 'y', 0, 0, 0, 'z', 0, 0, 0};
        Path u = zip("u.npz", "ids.npy", npy("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", unicode));
        assertEquals(List.of("ab", "xyz"), Npz.readStrings(u, "ids"));
        Path b = zip("s.npz", "ids.npy", npy("{'descr': '|S2', 'fortran_order': False, 'shape': (2,), }", new byte[]{'a', 'b', 'c', 0}));
        assertEquals(List.of("ab", "c"), Npz.readStrings(b, "ids"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npz.readStrings(file, "features"));
        assertTrue(e.getMessage().contains("array 'features' has dtype '<f8'; accepted: text, '<U<n>' or '|S<n>'"), e.getMessage());
    }

    private static byte[] npy(String dict, byte[] data) {
        int padded = (10 + dict.length() + 1 + 63) / 64 * 64;
        String text = dict + " ".repeat(padded - 10 - dict.length() - 1) + "\n";
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[]{(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (byte) text.length(), (byte) (text.length() >> 8)});
        out.writeBytes(text.getBytes(StandardCharsets.ISO_8859_1));
        out.writeBytes(data);
        return out.toByteArray();
    }

    private Path zip(String name, String entry, byte[] bytes) throws IOException {
        Path file = tmp.resolve(name);
        try (OutputStream o = Files.newOutputStream(file); ZipOutputStream z = new ZipOutputStream(o)) {
            z.putNextEntry(new ZipEntry(entry));
            z.write(bytes);
            z.closeEntry();
        }
        return file;
    }
}
