package org.transcend.model.sit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.io.Safetensors;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.*;

/** RAE's DiT-DH head: its tensors, its hand-written gradients against central differences, and its state_dict. */
class DdtHeadTest {

    @TempDir
    Path dir;

    /** Backbone D = 16 (2 blocks, 2 heads) with QK-norm; head D_h = 24, 2 blocks, 3 heads of 8. */
    static final SiTConfig TINY_DH = new SiTConfig(8, 2, 4, 16, 2, 2, 2.0, 10, true, 0.1, 0, 0, 24, 2, 3);

    @Test
    void theHeadReplacesTheFinalLayerAndStartsAtZeroOutput() {
        SiT sit = SiT.initialise(TINY_DH, List.of(), Optional.empty(), DataType.DOUBLE, 1);
        Map<String, INDArray> weights = sit.stateDict();
        assertFalse(weights.keySet().stream().anyMatch(k -> k.startsWith("final_layer.")), "no backbone final layer");
        assertArrayEquals(new long[]{24, 16}, weights.get("s_projector.weight").shape());
        assertArrayEquals(new long[]{24, 4, 2, 2}, weights.get("x_embedder_head.proj.weight").shape());
        assertArrayEquals(new long[]{1, 16, 24}, weights.get("pos_embed_head").shape());
        assertArrayEquals(new long[]{144, 24}, weights.get("head_blocks.1.adaLN_modulation.1.weight").shape());
        assertArrayEquals(new long[]{8}, weights.get("head_blocks.0.attn.q_norm.weight").shape());
        assertArrayEquals(new long[]{48, 24}, weights.get("head_blocks.0.mlp.fc1.weight").shape());
        assertArrayEquals(new long[]{16, 24}, weights.get("head_final_layer.linear.weight").shape());
        assertFalse(sit.trainableNames().contains("pos_embed_head"), "the head's position embedding is fixed");
        for (String zero : List.of("head_blocks.0.adaLN_modulation.1.weight", "head_final_layer.adaLN_modulation.1.weight",
                "head_final_layer.linear.weight")) {
            assertEquals(0.0, weights.get(zero).norm2Number().doubleValue(), zero + " starts at zero (adaLN-Zero)");
        }
        assertEquals(Nd4j.create(SiT.positionEmbedding(24, 4), new long[]{1, 16, 24}, 'c'), weights.get("pos_embed_head"));

        Map<String, INDArray> in = SiTEngineTest.inputs(sit, 2, 2);
        INDArray out = new SiTEngine(sit).forward(in.get("x"), in.get("t"), in.get("y")).out().orElseThrow();
        assertEquals(0.0, out.norm2Number().doubleValue(), "a zero final layer gives a zero output");
    }

    /**
     * The engine's gradients of a random projection of the output against central differences at entries of every
     * trained tensor: the head's own, and the backbone's through the head (z via s, t via s, c via the backbone blocks).
     */
    @Test
    void everyGradientThroughTheHeadEqualsCentralDifferencesInFloat64() {
        SiT sit = SiTEngineTest.randomise(SiT.initialise(TINY_DH, List.of(), Optional.empty(), DataType.DOUBLE, 3), 3);
        Map<String, INDArray> in = SiTEngineTest.inputs(sit, 2, 4);
        INDArray r = Nd4j.randn(DataType.DOUBLE, 2, 4, 8, 8);
        SiTEngine engine = new SiTEngine(sit);
        engine.forward(in.get("x"), in.get("t"), in.get("y"));
        Map<String, INDArray> got = engine.backward(Optional.of(r), Map.of(), Optional.empty());
        for (String name : List.of("s_projector.weight", "t_embedder.mlp.2.weight", "blocks.1.mlp.fc2.weight")) {
            assertTrue(got.get(name).norm2Number().doubleValue() > 0, name + " gets a gradient");
        }
        SiTEngineTest.assertFiniteDifferences(sit,
                () -> engine.forward(in.get("x"), in.get("t"), in.get("y")).out().orElseThrow().mul(r).sumNumber().doubleValue(),
                got, sit.trainableNames(), 3);
    }

    /** With REG's global token, the head reads the patch tokens only and v̂_g still comes from the backbone. */
    @Test
    void withTheGlobalTokenTheGradientsThroughTheHeadEqualCentralDifferences() {
        SiTConfig config = new SiTConfig(8, 2, 4, 16, 2, 2, 2.0, 10, false, 0.1, 0, 6, 12, 1, 2);
        SiT sit = SiTEngineTest.randomise(SiT.initialise(config, List.of(), Optional.empty(), DataType.DOUBLE, 5), 5);
        Map<String, INDArray> in = SiTEngineTest.inputs(sit, 2, 6);
        INDArray g = Nd4j.randn(DataType.DOUBLE, 2, 6);
        INDArray r = Nd4j.randn(DataType.DOUBLE, 2, 4, 8, 8), rg = Nd4j.randn(DataType.DOUBLE, 2, 6);
        SiTEngine engine = new SiTEngine(sit);
        java.util.function.DoubleSupplier loss = () -> {
            SiTEngine.Outputs o = engine.forward(in.get("x"), g, in.get("t"), in.get("y"));
            return o.out().orElseThrow().mul(r).sumNumber().doubleValue() + o.global().orElseThrow().mul(rg).sumNumber().doubleValue();
        };
        loss.getAsDouble();
        Map<String, INDArray> got = engine.backward(Optional.of(r), Map.of(), Optional.empty(), Optional.empty(), Optional.of(rg));
        SiTEngineTest.assertFiniteDifferences(sit, loss, got, List.of("s_projector.weight", "head_blocks.0.attn.qkv.weight",
                "head_final_layer.adaLN_modulation.1.bias", "cls_projectors2.weight", "blocks.0.adaLN_modulation.1.weight",
                "t_embedder.mlp.0.weight"), 6);
    }

    @Test
    void withoutAnOutputGradientTheHeadGetsZeroGradients() {
        SiT sit = SiTEngineTest.randomise(SiT.initialise(TINY_DH, List.of(new ProjectorHead(1, 20, 8)), Optional.empty(),
                DataType.DOUBLE, 7), 7);
        Map<String, INDArray> in = SiTEngineTest.inputs(sit, 2, 8);
        SiTEngine engine = new SiTEngine(sit);
        engine.forward(in.get("x"), in.get("t"), in.get("y"));
        engine.backward(Optional.of(Nd4j.randn(DataType.DOUBLE, 2, 4, 8, 8)), Map.of(), Optional.empty());
        engine.forward(in.get("x"), in.get("t"), in.get("y"));
        Map<String, INDArray> got = engine.backward(Optional.empty(), Map.of(0, Nd4j.randn(DataType.DOUBLE, 2, 16, 8)), Optional.empty());
        for (String name : sit.trainableNames()) {
            boolean reached = name.startsWith("projectors.") || name.startsWith("blocks.0.") || name.startsWith("x_embedder.")
                    || name.startsWith("t_embedder.") || name.startsWith("y_embedder.");
            assertEquals(reached, got.get(name).norm2Number().doubleValue() > 0, name);
        }
    }

    @Test
    void theStateDictAndACheckpointFileBringTheHeadBack() throws IOException {
        SiT sit = SiTEngineTest.randomise(SiT.initialise(TINY_DH, List.of(), Optional.empty(), DataType.DOUBLE, 9), 9);
        Path file = dir.resolve("dh.safetensors");
        Safetensors.write(file, sit.stateDict(), Map.of(), Safetensors.Dtype.F64);
        Map<String, INDArray> read = Safetensors.read(file).tensors();
        SiT.checkStateDict(Safetensors.shapes(file), 2, 3, true, OptionalInt.empty(), OptionalInt.empty());
        SiT back = SiT.fromStateDict(read, 2, 3, true, OptionalInt.empty(), OptionalInt.empty());
        assertEquals(TINY_DH, back.config(), "the config comes back from the state_dict");
        assertEquals(read.keySet(), SiT.withoutHeads(read).keySet(), "the DH head is part of the network a sampler loads");

        Map<String, INDArray> in = SiTEngineTest.inputs(sit, 2, 10);
        INDArray want = new SiTEngine(sit).forward(in.get("x"), in.get("t"), in.get("y")).out().orElseThrow().dup();
        INDArray got = new SiTEngine(back).forward(in.get("x").castTo(DataType.FLOAT), in.get("t").castTo(DataType.FLOAT),
                in.get("y").castTo(DataType.FLOAT)).out().orElseThrow();
        assertTrue(SiTEngineTest.relativeError(got, want) < 1e-5, "the loaded network gives the same output");

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SiT.fromStateDict(read, 2, 5, true, OptionalInt.empty(), OptionalInt.empty()));
        assertTrue(e.getMessage().contains("headHeads is 5"), e.getMessage());
    }

    @Test
    void aBadHeadShapeIsRefusedNamingTheValueAndWhatIsAccepted() {
        IllegalArgumentException width = assertThrows(IllegalArgumentException.class,
                () -> new SiTConfig(8, 2, 4, 16, 2, 2, 2.0, 10, false, 0.1, 0, 0, 22, 2, 2).validate());
        assertEquals("headWidth is 22; accepted with a DH head: a positive multiple of 4", width.getMessage());
        IllegalArgumentException heads = assertThrows(IllegalArgumentException.class,
                () -> new SiTConfig(8, 2, 4, 16, 2, 2, 2.0, 10, false, 0.1, 0, 0, 24, 2, 5).validate());
        assertEquals("headHeads is 5; accepted: a divisor of headWidth 24", heads.getMessage());
        IllegalArgumentException orphan = assertThrows(IllegalArgumentException.class,
                () -> new SiTConfig(8, 2, 4, 16, 2, 2, 2.0, 10, false, 0.1, 0, 0, 24, 0, 3).validate());
        assertTrue(orphan.getMessage().contains("headWidth 24 and headHeads 3 are given without a DH head"), orphan.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new SiTConfig(8, 2, 4, 16, 2, 2, 2.0, 10, false, 0.1, 0, 0, 0, -1, 0).validate());
    }

    @Test
    void theSameDiffGraphRefusesTheHeadAndPointsToTheEngine() {
        SiT sit = SiT.initialise(TINY_DH, List.of(), Optional.empty(), DataType.DOUBLE, 11);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SiTEngineTest.build(org.nd4j.autodiff.samediff.SameDiff.create(), sit));
        assertTrue(e.getMessage().contains("SiTEngine computes it"), e.getMessage());
    }
}
