package org.transcend.model.sit;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.Fixtures;
import org.transcend.model.io.Safetensors;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class SiTTest {

    /** Every feature at once: QK-norm, a projector and an align head, on a network small enough for doubles. */
    static final SiTConfig TINY = new SiTConfig(4, 2, 2, 8, 2, 2, 2.0, 3, true, 0.1);

    static SiT tinyWithRandomWeights(DataType type, long seed) {
        SiT sit = SiT.initialise(TINY, List.of(new ProjectorHead(1, 6, 5)), Optional.of(new AlignHead(2, 7)), type, seed);
        SplittableRandom r = new SplittableRandom(seed + 1);
        Map<String, INDArray> w = sit.stateDict();
        // the reference zero-initialises adaLN and the final layer, which would hide most gradients
        w.replaceAll((name, a) -> name.equals(SiT.POS_EMBED) ? a : fill(a.dup(), r, 0.4));
        sit.loadStateDict(w);
        return sit;
    }

    static INDArray fill(INDArray a, SplittableRandom r, double std) {
        for (long i = 0; i < a.length(); i++) a.putScalar(i, std * r.nextGaussian());
        return a;
    }

    record Graph(SameDiff sd, SiTOutputs outputs, SDVariable loss, Map<String, INDArray> feed) {}

    /** A scalar loss touching every output: fixed random weightings of out, the projection and the align head. */
    static Graph lossGraph(SiT sit) {
        DataType type = sit.dataType();
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder("x", type, -1, 2, 4, 4);
        SDVariable t = sd.placeHolder("t", type, -1);
        SDVariable y = sd.placeHolder("y", type, -1, 4);
        SiTOutputs o = sit.build(sd, x, t, y);
        SplittableRandom r = new SplittableRandom(99);
        SDVariable loss = o.out().orElseThrow().mul(sd.constant(fill(Nd4j.create(type, 3, 2, 4, 4), r, 1))).sum()
                .add(o.projections().get(0).mul(sd.constant(fill(Nd4j.create(type, 3, 4, 5), r, 1))).sum())
                .add(o.align().orElseThrow().mul(sd.constant(fill(Nd4j.create(type, 3, 2, 4, 4), r, 1))).sum());
        Map<String, INDArray> feed = Map.of(
                "x", fill(Nd4j.create(type, 3, 2, 4, 4), r, 1),
                "t", Nd4j.createFromArray(0.1, 0.5, 0.9).castTo(type),
                "y", sit.oneHot(0, 2, 3));
        return new Graph(sd, o, loss, feed);
    }

    @Test
    void namedConfigsFollowTheMethodTable() {
        assertEquals(new SiTConfig(32, 2, 4, 768, 12, 12, 4.0, 1000, false, 0.1), SiTConfig.named("SiT-B/2", 32, 4, 1000));
        assertEquals(1152, SiTConfig.sitXL2(32, 4, 1000).hidden());
        assertEquals(24, SiTConfig.sitL2(32, 4, 1000).depth());
        assertEquals(6, SiTConfig.sitS2(32, 4, 1000).heads());
        assertEquals(256, SiTConfig.sitB2(32, 4, 1000).tokens());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SiTConfig.named("SiT-B/4", 32, 4, 10));
        assertTrue(e.getMessage().contains("SiT-B/4"), e.getMessage());
    }

    @Test
    void validateNamesTheInconsistentValue() {
        IllegalArgumentException heads = assertThrows(IllegalArgumentException.class,
                () -> new SiTConfig(8, 2, 4, 64, 2, 5, 4.0, 10, false, 0.1).validate());
        assertEquals("hidden 64 is not divisible by heads 5", heads.getMessage());
        IllegalArgumentException patch = assertThrows(IllegalArgumentException.class,
                () -> new SiTConfig(9, 2, 4, 64, 2, 4, 4.0, 10, false, 0.1).validate());
        assertEquals("inputSize 9 is not divisible by patchSize 2", patch.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new SiTConfig(8, 2, 4, 64, 2, 4, 4.0, 10, false, 1.0).validate());
        assertThrows(IllegalArgumentException.class, () -> new SiTConfig(8, 2, 4, 64, 0, 4, 4.0, 10, false, 0.1).validate());
        assertThrows(IllegalArgumentException.class, () -> SiT.initialise(TINY, List.of(new ProjectorHead(3, 4, 4)),
                Optional.empty(), DataType.FLOAT, 1));
    }

    @Test
    void initialisationFollowsTheReference() throws IOException {
        SiTConfig config = new SiTConfig(8, 2, 4, 64, 4, 4, 4.0, 10, false, 0.1);
        SiT sit = SiT.initialise(config, List.of(new ProjectorHead(2, 128, 32)), Optional.empty(), DataType.FLOAT, 5);
        Map<String, INDArray> w = sit.stateDict();
        INDArray reference = Safetensors.read(Fixtures.file("sit_tiny.safetensors")).require("pos_embed");
        assertEquals(0, w.get("pos_embed").sub(reference).amaxNumber().doubleValue(), 1e-6);
        for (String zero : List.of("blocks.3.adaLN_modulation.1.weight", "final_layer.adaLN_modulation.1.bias",
                "final_layer.linear.weight", "final_layer.linear.bias", "blocks.0.attn.qkv.bias", "x_embedder.proj.bias")) {
            assertEquals(0, w.get(zero).amaxNumber().doubleValue(), 0.0, zero);
        }
        double qkvBound = Math.sqrt(6.0 / (64 + 192));
        INDArray qkv = w.get("blocks.1.attn.qkv.weight");
        assertTrue(qkv.amaxNumber().doubleValue() <= qkvBound && qkv.amaxNumber().doubleValue() > 0.95 * qkvBound);
        double patchBound = Math.sqrt(6.0 / (16 + 64));
        assertTrue(w.get("x_embedder.proj.weight").amaxNumber().doubleValue() > 0.95 * patchBound);
        assertEquals(0.02, w.get("y_embedder.embedding_table.weight").stdNumber().doubleValue(), 0.002);
        assertEquals(0.02, w.get("t_embedder.mlp.0.weight").stdNumber().doubleValue(), 0.002);
        assertEquals(w, SiT.initialise(config, List.of(new ProjectorHead(2, 128, 32)), Optional.empty(), DataType.FLOAT, 5).stateDict());
        assertNotEquals(qkv, SiT.initialise(config, List.of(), Optional.empty(), DataType.FLOAT, 6).stateDict().get("blocks.1.attn.qkv.weight"));
    }

    @Test
    void aFreshNetworkPredictsZeroBecauseItsFinalLayerIsZero() {
        SiT sit = SiT.initialise(TINY, List.of(), Optional.empty(), DataType.FLOAT, 3);
        SameDiff sd = SameDiff.create();
        SiTOutputs o = sit.build(sd, sd.constant(Nd4j.rand(DataType.FLOAT, 2, 2, 4, 4)), sd.constant(Nd4j.createFromArray(0.3f, 0.8f)),
                sd.constant(sit.oneHot(1, 3)));
        INDArray out = o.out().orElseThrow().eval();
        assertArrayEquals(new long[]{2, 2, 4, 4}, out.shape());
        assertEquals(0, out.amaxNumber().doubleValue(), 0.0);
    }

    @Test
    void stateDictRoundTripsThePyTorchTensorsExactly() throws IOException {
        Map<String, INDArray> weights = SiTParityTest.weightsOnly(Safetensors.read(Fixtures.file("sit_tiny.safetensors")).tensors());
        SiT sit = SiT.fromStateDict(weights, 4, false, OptionalInt.of(2), OptionalInt.empty());
        Map<String, INDArray> back = sit.stateDict();
        assertEquals(weights.keySet(), back.keySet());
        weights.forEach((name, a) -> assertEquals(a, back.get(name), name));
    }

    @Test
    void loadStateDictNamesEveryMissingExtraOrMisshapenTensor() {
        SiT sit = SiT.initialise(TINY, List.of(), Optional.empty(), DataType.FLOAT, 1);
        Map<String, INDArray> w = new LinkedHashMap<>(sit.stateDict());
        w.remove("blocks.1.mlp.fc2.bias");
        w.put("blocks.0.attn.qkv.weight", Nd4j.zeros(DataType.FLOAT, 8, 24));
        w.put("blocks.9.attn.qkv.weight", Nd4j.zeros(DataType.FLOAT, 24, 8));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sit.loadStateDict(w));
        assertTrue(e.getMessage().contains("missing 'blocks.1.mlp.fc2.bias' [8]"), e.getMessage());
        assertTrue(e.getMessage().contains("'blocks.0.attn.qkv.weight' has shape [8, 24], expected [24, 8]"), e.getMessage());
        assertTrue(e.getMessage().contains("unexpected 'blocks.9.attn.qkv.weight' [24, 8]"), e.getMessage());
    }

    @Test
    void inferConfigRefusesAQkNormSettingTheWeightsContradict() throws IOException {
        Map<String, INDArray> weights = SiTParityTest.weightsOnly(Safetensors.read(Fixtures.file("sit_tiny.safetensors")).tensors());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SiT.inferConfig(weights, 4, true));
        assertTrue(e.getMessage().contains("set qkNorm to false"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> SiT.fromStateDict(weights, 4, false, OptionalInt.empty(), OptionalInt.empty()));
    }

    @Test
    void buildingOnlyUpToBlockKGivesTheSameBlockKOutput() {
        SiT sit = tinyWithRandomWeights(DataType.FLOAT, 11);
        INDArray x = Nd4j.rand(DataType.FLOAT, 2, 2, 4, 4);
        INDArray t = Nd4j.createFromArray(0.2f, 0.6f);
        INDArray y = sit.oneHot(1, 3);
        SameDiff full = SameDiff.create();
        INDArray expected = sit.build(full, full.constant(x), full.constant(t), full.constant(y)).block(1).eval();
        SameDiff teacher = SameDiff.create();
        SiTOutputs o = sit.build(teacher, teacher.constant(x), teacher.constant(t), teacher.constant(y),
                SiT.Wiring.frozenUpTo("teacher/", 1));
        assertEquals(1, o.blocks().size());
        assertTrue(o.out().isEmpty() && o.projections().isEmpty() && o.align().isEmpty());
        assertEquals(expected, o.block(1).eval());
        assertTrue(teacher.variables().stream().noneMatch(v -> v.getVariableType() == org.nd4j.autodiff.samediff.VariableType.VARIABLE),
                "a frozen build holds no trainable variables");
        assertTrue(teacher.hasVariable("teacher/blocks.0.attn.qkv.weight"));
        assertFalse(teacher.hasVariable("teacher/blocks.1.attn.qkv.weight"));
    }

    @Test
    void buildingTwiceUnderOnePrefixSharesTheParameters() {
        SiT sit = tinyWithRandomWeights(DataType.FLOAT, 12);
        INDArray x = Nd4j.rand(DataType.FLOAT, 2, 2, 4, 4);
        INDArray t = Nd4j.createFromArray(0.4f, 0.45f);
        SameDiff sd = SameDiff.create();
        SiTOutputs conditional = sit.build(sd, sd.constant(x), sd.constant(t), sd.constant(sit.oneHot(1, 2)), SiT.Wiring.frozenUpTo("teacher/", 2));
        long parameters = sd.variables().stream().filter(v -> v.name().startsWith("teacher/")).count();
        SiTOutputs unconditional = sit.build(sd, sd.constant(x), sd.constant(t), sd.constant(sit.oneHot(3, 3)), SiT.Wiring.frozenUpTo("teacher/", 2));
        assertEquals(parameters, sd.variables().stream().filter(v -> v.name().startsWith("teacher/")).count());
        INDArray fc = conditional.block(2).eval(), fu = unconditional.block(2).eval();
        assertTrue(fc.sub(fu).amaxNumber().doubleValue() > 1e-4, "the labels differ, so the features must");
    }

    @Test
    void graphsShareTheNetworksArraysSoLoadingNewWeightsChangesTheirOutput() {
        SiT sit = tinyWithRandomWeights(DataType.FLOAT, 4);
        SameDiff sd = SameDiff.create();
        SiTOutputs o = sit.build(sd, sd.constant(Nd4j.rand(DataType.FLOAT, 1, 2, 4, 4)), sd.constant(Nd4j.createFromArray(0.5f)),
                sd.constant(sit.oneHot(2)));
        INDArray before = o.out().orElseThrow().eval().dup();
        sit.loadStateDict(tinyWithRandomWeights(DataType.FLOAT, 5).stateDict());
        INDArray after = o.out().orElseThrow().eval();
        assertTrue(before.sub(after).amaxNumber().doubleValue() > 1e-3);
    }

    @Test
    void everyTrainableParameterGetsANonZeroFiniteGradient() {
        SiT sit = tinyWithRandomWeights(DataType.FLOAT, 21);
        Graph g = lossGraph(sit);
        Map<String, INDArray> grads = g.sd().calculateGradients(g.feed(), sit.trainableNames());
        assertEquals(sit.stateDict().size() - 1, sit.trainableNames().size());
        for (String name : sit.trainableNames()) {
            INDArray grad = grads.get(name);
            assertNotNull(grad, name);
            assertArrayEquals(sit.stateDict().get(name).shape(), grad.shape(), name);
            double norm = grad.norm2Number().doubleValue();
            assertTrue(Double.isFinite(norm), name + " gradient norm " + norm);
            // a bias added to every key shifts each query's logits by a constant, which softmax ignores
            if (name.endsWith("k_norm.bias")) {
                assertEquals(0, norm, 1e-5, name);
            } else {
                assertTrue(norm > 1e-4, name + " gradient norm " + norm);
            }
        }
    }

    /**
     * The largest gradient entry and the first and last within a tenth of it: entries far below the largest
     * drown in the rounding noise of the loss (about 1e-9 here) and would test the difference formula, not the graph.
     */
    static long[] wellConditionedEntries(INDArray grad) {
        double[] g = grad.dup('c').reshape(grad.length()).toDoubleVector();
        int largest = 0;
        for (int i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[largest])) largest = i;
        int first = -1, last = -1;
        for (int i = 0; i < g.length; i++) {
            if (Math.abs(g[i]) >= 0.1 * Math.abs(g[largest])) {
                if (first < 0) first = i;
                last = i;
            }
        }
        return new long[]{largest, first, last};
    }

    @Test
    void gradientsAgreeWithCentralFiniteDifferencesInFloat64() {
        SiT sit = tinyWithRandomWeights(DataType.DOUBLE, 31);
        Graph g = lossGraph(sit);
        List<String> checked = List.of("x_embedder.proj.weight", "t_embedder.mlp.0.weight", "y_embedder.embedding_table.weight",
                "blocks.0.attn.qkv.weight", "blocks.1.attn.q_norm.weight", "blocks.0.attn.k_norm.weight", "blocks.1.attn.proj.bias",
                "blocks.0.mlp.fc1.weight", "blocks.1.adaLN_modulation.1.weight", "projectors.0.2.weight",
                "align_head.out.weight", "final_layer.adaLN_modulation.1.bias", "final_layer.linear.weight");
        Map<String, INDArray> grads = g.sd().calculateGradients(g.feed(), checked);
        String lossName = g.loss().name();
        // the five-point stencil: truncation error O(h⁴), so h can be large enough to keep rounding noise small
        double h = 1e-3;
        double worst = 0;
        for (String name : checked) {
            INDArray w = g.sd().getVariable(name).getArr();
            for (long index : wellConditionedEntries(grads.get(name))) {
                double original = w.getDouble(index);
                double[] f = new double[4];
                double[] steps = {-2 * h, -h, h, 2 * h};
                for (int s = 0; s < 4; s++) {
                    w.putScalar(index, original + steps[s]);
                    f[s] = g.sd().output(g.feed(), lossName).get(lossName).getDouble(0);
                }
                w.putScalar(index, original);
                double numeric = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h);
                double analytic = grads.get(name).getDouble(index);
                double err = Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic));
                worst = Math.max(worst, err);
                assertTrue(err < 1e-6, name + "[" + index + "] analytic " + analytic + " numeric " + numeric);
            }
        }
        System.out.printf("worst finite-difference relative error %.3g%n", worst);
    }
}
