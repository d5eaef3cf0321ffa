package org.transcend.model.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.Fixtures;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsTest {

    @TempDir
    Path dir;

    @Test
    void readsThePyTorchReferenceFileWithItsShapesAndMetadata() throws IOException {
        Safetensors.Contents c = Safetensors.read(Fixtures.file("sit_tiny.safetensors"));
        assertArrayEquals(new long[]{64, 4, 2, 2}, c.require("x_embedder.proj.weight").shape());
        assertArrayEquals(new long[]{192, 64}, c.require("blocks.0.attn.qkv.weight").shape());
        assertEquals(DataType.LONG, c.require("io.y").dataType());
        assertArrayEquals(new long[]{1, 9, 10}, c.require("io.y").toLongVector());
        assertEquals(0.5f, c.require("io.t").getFloat(1), 0f);
    }

    @Test
    void roundTripsFloat32ExactlyAndFloat16ToHalfPrecision() throws IOException {
        INDArray w = Nd4j.rand(DataType.FLOAT, 3, 5).subi(0.5);
        INDArray labels = Nd4j.createFromArray(1L, 2L, 3L);
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("w", w);
        t.put("labels", labels);
        Safetensors.write(dir.resolve("a.safetensors"), t, Map.of("step", "7"), Safetensors.Dtype.F32);
        Safetensors.Contents back = Safetensors.read(dir.resolve("a.safetensors"));
        assertEquals(w, back.require("w"));
        assertEquals(labels, back.require("labels"));
        assertEquals("7", back.metadata().get("step"));

        Safetensors.write(dir.resolve("h.safetensors"), t, Map.of(), Safetensors.Dtype.F16);
        INDArray half = Safetensors.read(dir.resolve("h.safetensors")).require("w");
        assertEquals(DataType.FLOAT, half.dataType());
        assertTrue(w.sub(half).amaxNumber().doubleValue() < 1e-3);
    }

    @Test
    void refusesAnAbsurdHeaderLengthBeforeAllocating() throws IOException {
        Path f = dir.resolve("huge.safetensors");
        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        WeightsFileException e = assertThrows(WeightsFileException.class, () -> Safetensors.read(f));
        assertTrue(e.getMessage().contains("1099511627776"), e.getMessage());
    }

    @Test
    void refusesOffsetsPastTheEndAndShapesThatDisagreeWithTheirBytes() throws IOException {
        Path past = raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,64]}}", 8);
        assertTrue(assertThrows(WeightsFileException.class, () -> Safetensors.read(past)).getMessage()
                .contains("outside the data section"));
        Path shape = raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        String msg = assertThrows(WeightsFileException.class, () -> Safetensors.read(shape)).getMessage();
        assertTrue(msg.contains("'w'") && msg.contains("needs 12 bytes"), msg);
        Path notJson = raw("{not json", 0);
        assertTrue(assertThrows(WeightsFileException.class, () -> Safetensors.read(notJson)).getMessage()
                .contains("not JSON"));
    }

    private Path raw(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path f = Files.createTempFile(dir, "bad", ".safetensors");
        Files.write(f, b.array());
        return f;
    }
}
