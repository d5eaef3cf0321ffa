package org.transcend.model.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.io.WeightsFileException;
import org.transcend.model.sit.AlignHead;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTConfig;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/** Checkpoints that do not fit the network they are loaded for are refused from their header, naming the tensor. */
class CheckpointTest {

    static final SiTConfig TINY = new SiTConfig(8, 2, 4, 16, 2, 2, 4.0, 10, false, 0.1);

    @TempDir
    Path dir;

    private static Consumer<Map<String, long[]>> teacherCheck() {
        return shapes -> SiT.checkStateDict(shapes, 2, false, OptionalInt.empty(), OptionalInt.of(1));
    }

    private static Map<String, long[]> tinyShapes() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        SiT.initialise(TINY, List.of(), Optional.of(new AlignHead(1, 8)), DataType.FLOAT, 1).stateDict()
                .forEach((name, a) -> shapes.put(name, a.shape()));
        return shapes;
    }

    /** A safetensors file with these F32 tensors whose data are all zeros, written sparsely: nothing is on disk. */
    private Path sparseFile(Map<String, long[]> shapes) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        header.putObject("__metadata__").put("step", "4");
        long offset = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long bytes = 4;
            for (long d : e.getValue()) bytes *= d;
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var shape = t.putArray("shape");
            for (long d : e.getValue()) shape.add(d);
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] h = json.writeValueAsBytes(header);
        Path file = dir.resolve("checkpoint.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            f.write(h);
            f.setLength(8 + h.length + offset);
        }
        return file;
    }

    @Test
    void a40GigabyteCheckpointOfTheWrongShapesIsRefusedFromItsHeaderNamingEveryTensor() throws IOException {
        Map<String, long[]> shapes = tinyShapes();
        shapes.put("blocks.1.mlp.fc1.weight", new long[]{25_000, 20_000});
        shapes.remove("final_layer.linear.bias");
        for (int i = 0; i < 20; i++) shapes.put("huge." + i, new long[]{25_000, 20_000}); // 2 GB each
        Path file = sparseFile(shapes);
        assertTrue(file.toFile().length() > 40_000_000_000L);
        // Reading it would need 40 GB of memory, far beyond this JVM's; the refusal comes from the header alone.
        WeightsFileException e = assertThrows(WeightsFileException.class, () -> Checkpoint.load(file, teacherCheck()));
        String m = e.getMessage();
        assertTrue(m.startsWith(file.toString()), m);
        assertTrue(m.contains("'blocks.1.mlp.fc1.weight' has shape [25000, 20000], expected [64, 16]"), m);
        assertTrue(m.contains("missing 'final_layer.linear.bias' [16]"), m);
        assertTrue(m.contains("unexpected 'huge.0' [25000, 20000]"), m);
    }

    @Test
    void anEmaOrOptimiserTensorWhoseShapeDiffersFromItsWeightIsRefused() throws IOException {
        Map<String, long[]> shapes = tinyShapes();
        shapes.put("ema.t_embedder.mlp.0.weight", new long[]{16, 256});
        shapes.put("adam.m.t_embedder.mlp.0.weight", new long[]{16, 255});
        WeightsFileException e = assertThrows(WeightsFileException.class, () -> Checkpoint.load(sparseFile(shapes), teacherCheck()));
        assertTrue(e.getMessage().contains("tensor 'adam.m.t_embedder.mlp.0.weight' has shape [16, 255]; expected the shape of "
                + "'t_embedder.mlp.0.weight', [16, 256]"), e.getMessage());
    }

    @Test
    void aCheckpointThatFitsLoadsAsBefore() throws IOException {
        SiT sit = SiT.initialise(TINY, List.of(), Optional.of(new AlignHead(1, 8)), DataType.FLOAT, 2);
        Map<String, INDArray> ema = new LinkedHashMap<>();
        sit.stateDict().forEach((k, a) -> ema.put("ema." + k, a.add(1)));
        Path file = dir.resolve("ok.safetensors");
        new Checkpoint(sit.stateDict(), ema, Map.of("adam.m.pos_embed", Nd4j.zeros(DataType.FLOAT, 1, 16, 16)), 3, Map.of()).save(file);
        Checkpoint c = Checkpoint.load(file, teacherCheck());
        assertEquals(3, c.step());
        assertEquals(sit.stateDict().get("pos_embed"), c.weights().get("pos_embed"));
    }
}
