package org.transcend.model.sit;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.Fixtures;
import org.transcend.model.flow.Prediction;
import org.transcend.model.flow.VelocityModel;
import org.transcend.model.io.Safetensors;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.*;

class SiTEngineTest {

    static final SiTConfig TINY_QK = new SiTConfig(8, 2, 4, 32, 3, 2, 4.0, 10, true, 0.1);
    static final SiTConfig TINY = new SiTConfig(8, 2, 4, 32, 3, 4, 4.0, 10, false, 0.1);

    static double relativeError(INDArray actual, INDArray expected) {
        INDArray e = expected.castTo(DataType.DOUBLE);
        return actual.castTo(DataType.DOUBLE).sub(e).norm2Number().doubleValue() / e.norm2Number().doubleValue();
    }

    /** A network whose every tensor is random, so no gradient vanishes behind a zero-initialised layer. */
    static SiT randomised(SiTConfig config, DataType type, long seed) {
        SiT sit = SiT.initialise(config, List.of(new ProjectorHead(1, 48, 24)), Optional.of(new AlignHead(2, 40)), type, seed);
        Nd4j.getRandom().setSeed(seed);
        Map<String, INDArray> weights = sit.stateDict();
        for (String name : sit.trainableNames()) {
            INDArray w = weights.get(name);
            w.assign(Nd4j.randn(type, w.shape()).muli(name.contains("norm") ? 0.3 : 0.2));
            if (name.endsWith("norm.weight")) w.addi(1.0);
        }
        sit.loadStateDict(weights);
        return sit;
    }

    static Map<String, INDArray> inputs(SiT sit, int n, long seed) {
        Nd4j.getRandom().setSeed(seed);
        SiTConfig c = sit.config();
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) labels[i] = (i * 7L) % (c.numClasses() + 1);
        return Map.of("x", Nd4j.randn(sit.dataType(), n, c.inChannels(), c.inputSize(), c.inputSize()),
                "t", Nd4j.rand(sit.dataType(), n), "y", sit.oneHot(labels));
    }

    static SiTOutputs build(SameDiff sd, SiT sit) {
        SiTConfig c = sit.config();
        return sit.build(sd, sd.placeHolder("x", sit.dataType(), -1, c.inChannels(), c.inputSize(), c.inputSize()),
                sd.placeHolder("t", sit.dataType(), -1), sd.placeHolder("y", sit.dataType(), -1, c.labelRows()));
    }

    @Test
    void forwardAgreesWithThePyTorchFixtureWithinOneInAHundredThousand() throws IOException {
        Safetensors.Contents fixture = Safetensors.read(Fixtures.file("sit_tiny.safetensors"));
        Map<String, INDArray> weights = new LinkedHashMap<>(fixture.tensors());
        weights.keySet().removeIf(name -> name.startsWith("io."));
        SiT sit = SiT.fromStateDict(weights, 4, false, OptionalInt.of(2), OptionalInt.empty());
        SiTEngine engine = new SiTEngine(sit);
        SiTEngine.Outputs o = engine.forward(fixture.require("io.x"), fixture.require("io.t"), sit.oneHot(fixture.require("io.y").toLongVector()));
        Map<String, INDArray> got = new LinkedHashMap<>();
        got.put("io.c", o.c());
        for (int k = 1; k <= 4; k++) got.put("io.block" + k, o.block(k));
        got.put("io.z0", o.projections().get(0));
        got.put("io.out", o.out().orElseThrow());
        for (Map.Entry<String, INDArray> e : got.entrySet()) {
            INDArray expected = fixture.require(e.getKey());
            assertArrayEquals(expected.shape(), e.getValue().shape(), e.getKey());
            double err = relativeError(e.getValue(), expected);
            assertTrue(err < 1e-5, e.getKey() + " relative error " + err);
        }
    }

    @Test
    void theVelocityModelGivesTheFixtureOutputForIntegerLabels() throws IOException {
        Safetensors.Contents fixture = Safetensors.read(Fixtures.file("sit_tiny.safetensors"));
        Map<String, INDArray> weights = new LinkedHashMap<>(fixture.tensors());
        weights.keySet().removeIf(name -> name.startsWith("io."));
        SiT sit = SiT.fromStateDict(weights, 4, false, OptionalInt.of(2), OptionalInt.empty());
        VelocityModel model = new SiTEngine(sit).velocityModel(Prediction.VELOCITY);
        INDArray v = model.velocity(fixture.require("io.x"), fixture.require("io.t"), fixture.require("io.y").castTo(DataType.LONG));
        double err = relativeError(v, fixture.require("io.out"));
        assertTrue(err < 1e-5, "velocity relative error " + err);
        INDArray x = fixture.require("io.x"), t = fixture.require("io.t");
        INDArray x0 = new SiTEngine(sit).velocityModel(Prediction.X0).velocity(x, t, fixture.require("io.y").castTo(DataType.LONG));
        assertTrue(relativeError(x0, Prediction.X0.velocity(fixture.require("io.out"), x, t)) < 1e-5, "x0-prediction velocity");
    }

    @Test
    void forwardAgreesWithTheSameDiffNetworkIncludingQkNormAndTheAlignHead() {
        SiT sit = randomised(TINY_QK, DataType.FLOAT, 4);
        Map<String, INDArray> in = inputs(sit, 3, 5);
        SameDiff sd = SameDiff.create();
        SiTOutputs ref = build(sd, sit);
        Map<String, INDArray> expected = sd.output(in, ref.out().orElseThrow().name(), ref.projections().get(0).name(),
                ref.align().orElseThrow().name(), ref.block(2).name());
        SiTEngine.Outputs o = new SiTEngine(sit).forward(in.get("x"), in.get("t"), in.get("y"));
        assertTrue(relativeError(o.out().orElseThrow(), expected.get(ref.out().orElseThrow().name())) < 1e-5, "out");
        assertTrue(relativeError(o.projections().get(0), expected.get(ref.projections().get(0).name())) < 1e-5, "projection");
        assertTrue(relativeError(o.align().orElseThrow(), expected.get(ref.align().orElseThrow().name())) < 1e-5, "align");
        assertTrue(relativeError(o.block(2), expected.get(ref.block(2).name())) < 1e-5, "block 2");
    }

    @Test
    void anInferencePassStoppingAtABlockGivesTheSameFeaturesAsATrainingPass() {
        SiT sit = randomised(TINY, DataType.FLOAT, 6);
        Map<String, INDArray> in = inputs(sit, 4, 7);
        SiTEngine engine = new SiTEngine(sit);
        INDArray full = engine.forward(in.get("x"), in.get("t"), in.get("y")).block(2).dup();
        SiTEngine.Outputs partial = engine.forward(in.get("x"), in.get("t"), in.get("y"), 2, false, false);
        assertEquals(full, partial.block(2));
        assertTrue(partial.out().isEmpty());
    }

    @Test
    void gradientsEqualSameDiffsInFloat64() {
        for (SiTConfig config : List.of(TINY, TINY_QK)) {
            SiT sit = randomised(config, DataType.DOUBLE, 8);
            Map<String, INDArray> in = inputs(sit, 3, 9);
            Nd4j.getRandom().setSeed(10);
            SiTConfig c = sit.config();
            INDArray rOut = Nd4j.randn(DataType.DOUBLE, 3, c.inChannels(), c.inputSize(), c.inputSize());
            INDArray rProj = Nd4j.randn(DataType.DOUBLE, 3, c.tokens(), 24);
            INDArray rAlign = Nd4j.randn(DataType.DOUBLE, 3, c.inChannels(), c.inputSize(), c.inputSize());

            // the loss Σ out·R₁ + Σ proj·R₂ + Σ align·R₃ has the R's as its output gradients
            SameDiff sd = SameDiff.create();
            SiTOutputs o = build(sd, sit);
            SDVariable loss = o.out().orElseThrow().mul(sd.constant(rOut)).sum()
                    .add(o.projections().get(0).mul(sd.constant(rProj)).sum())
                    .add(o.align().orElseThrow().mul(sd.constant(rAlign)).sum());
            sd.setLossVariables(loss);
            Map<String, INDArray> expected = sd.calculateGradients(in, sit.trainableNames());

            SiTEngine engine = new SiTEngine(sit);
            engine.forward(in.get("x"), in.get("t"), in.get("y"));
            Map<String, INDArray> got = engine.backward(Optional.of(rOut), Map.of(0, rProj), Optional.of(rAlign));
            for (String name : sit.trainableNames()) {
                // the key norm's bias shifts every score of a query equally, which softmax ignores: its gradient is 0
                double scale = name.endsWith("k_norm.bias") ? 1.0 : expected.get(name).norm2Number().doubleValue();
                double err = got.get(name).sub(expected.get(name)).norm2Number().doubleValue() / scale;
                assertTrue(err < 1e-9, "qkNorm " + config.qkNorm() + ": " + name + " gradient error " + err
                        + " relative to " + scale);
            }
        }
    }

    @Test
    void float32GradientsAgreeWithSameDiffWithinOneInTenThousand() {
        SiT sit = randomised(TINY, DataType.FLOAT, 12);
        Map<String, INDArray> in = inputs(sit, 4, 13);
        Nd4j.getRandom().setSeed(14);
        SiTConfig c = sit.config();
        INDArray rOut = Nd4j.randn(DataType.FLOAT, 4, c.inChannels(), c.inputSize(), c.inputSize());
        SameDiff sd = SameDiff.create();
        SiTOutputs o = build(sd, sit);
        sd.setLossVariables(o.out().orElseThrow().mul(sd.constant(rOut)).sum());
        Map<String, INDArray> expected = sd.calculateGradients(in, sit.trainableNames().stream()
                .filter(n -> !n.startsWith("projectors.") && !n.startsWith("align_head.")).toList());

        SiTEngine engine = new SiTEngine(sit);
        engine.forward(in.get("x"), in.get("t"), in.get("y"));
        Map<String, INDArray> got = engine.backward(Optional.of(rOut), Map.of(), Optional.empty());
        for (Map.Entry<String, INDArray> e : expected.entrySet()) {
            double err = relativeError(got.get(e.getKey()), e.getValue());
            assertTrue(err < 1e-4, e.getKey() + " gradient relative error " + err);
        }
        assertEquals(0.0, got.get("projectors.0.0.weight").amaxNumber().doubleValue(), "a head without a loss gets no gradient");
        assertEquals(0.0, got.get("align_head.out.weight").amaxNumber().doubleValue(), "a head without a loss gets no gradient");
    }

    /** Every trainable tensor of {@code sit} redrawn as N(0, 0.2²), so no gradient hides behind a zero-initialised layer. */
    static SiT randomise(SiT sit, long seed) {
        Nd4j.getRandom().setSeed(seed);
        Map<String, INDArray> weights = sit.stateDict();
        for (String name : sit.trainableNames()) weights.get(name).assign(Nd4j.randn(sit.dataType(), weights.get(name).shape()).muli(0.2));
        sit.loadStateDict(weights);
        return sit;
    }

    /**
     * Central differences of {@code loss} (a function of the network's live tensors) against the engine's gradients, at
     * about {@code samples} entries of each named tensor, in float64.
     */
    static void assertFiniteDifferences(SiT sit, java.util.function.DoubleSupplier loss, Map<String, INDArray> got, List<String> names, int samples) {
        double h = 1e-6;
        for (String name : names) {
            INDArray p = sit.parameter(name).reshape(sit.parameter(name).length());
            for (int i = 0; i < p.length(); i += Math.max(1, (int) p.length() / samples)) {
                double keep = p.getDouble(i);
                p.putScalar(i, keep + h);
                double up = loss.getAsDouble();
                p.putScalar(i, keep - h);
                double down = loss.getAsDouble();
                p.putScalar(i, keep);
                double fd = (up - down) / (2 * h);
                assertEquals(fd, got.get(name).reshape(p.length()).getDouble(i), 1e-6 * Math.max(1, Math.abs(fd)), name + "[" + i + "]");
            }
        }
    }

    /** The SRA head's backward against SameDiff's and against central differences, in float64. */
    @Test
    void theSraHeadsGradientsEqualSameDiffsAndFiniteDifferencesInFloat64() {
        SiT sit = randomise(SiT.initialise(TINY, List.of(), Optional.empty(), Optional.of(new SraHead(2, 24)), DataType.DOUBLE, 15), 15);
        Map<String, INDArray> in = inputs(sit, 2, 16);
        INDArray r = Nd4j.randn(DataType.DOUBLE, 2, TINY.tokens(), TINY.hidden());

        SameDiff sd = SameDiff.create();
        SiTOutputs o = build(sd, sit);
        sd.setLossVariables(o.sra().orElseThrow().mul(sd.constant(r)).sum());
        Map<String, INDArray> expected = sd.calculateGradients(in, sit.trainableNames());
        SiTEngine engine = new SiTEngine(sit);
        INDArray head = engine.forward(in.get("x"), in.get("t"), in.get("y")).sra().orElseThrow();
        assertTrue(relativeError(head, sd.output(in, o.sra().orElseThrow().name()).get(o.sra().orElseThrow().name())) < 1e-12, "head output");
        Map<String, INDArray> got = engine.backward(Optional.empty(), Map.of(), Optional.empty(), Optional.of(r));
        for (String name : sit.trainableNames()) {
            // SameDiff leaves out what the loss does not reach (the blocks after the head's and the final layer)
            INDArray want = expected.getOrDefault(name, Nd4j.zeros(DataType.DOUBLE, got.get(name).shape()));
            double scale = want.norm2Number().doubleValue();
            double err = got.get(name).sub(want).norm2Number().doubleValue() / Math.max(scale, 1e-300);
            assertTrue(scale == 0 ? got.get(name).norm2Number().doubleValue() == 0 : err < 1e-9, name + " gradient error " + err);
        }
        assertEquals(0.0, got.get("blocks.2.attn.qkv.weight").norm2Number().doubleValue(), "blocks after the head's get nothing");

        assertFiniteDifferences(sit, () -> engine.forward(in.get("x"), in.get("t"), in.get("y")).sra().orElseThrow().mul(r).sumNumber().doubleValue(),
                got, List.of("sra_head.0.weight", "sra_head.2.bias", "blocks.1.mlp.fc1.weight", "y_embedder.embedding_table.weight"), 7);
    }

    /** JiT's bottleneck patch embedding: the engine against SameDiff and central differences in float64, and back from its state_dict. */
    @Test
    void theBottleneckPatchEmbeddingsGradientsEqualSameDiffsAndFiniteDifferencesInFloat64() {
        SiTConfig config = new SiTConfig(8, 4, 4, 32, 2, 4, 4.0, 10, false, 0.1, 6);
        SiT sit = randomise(SiT.initialise(config, List.of(), Optional.empty(), DataType.DOUBLE, 17), 17);
        Map<String, INDArray> weights = sit.stateDict();
        assertArrayEquals(new long[]{6, 4, 4, 4}, sit.parameter("x_embedder.proj1.weight").shape());
        assertArrayEquals(new long[]{32, 6, 1, 1}, sit.parameter("x_embedder.proj2.weight").shape());
        assertEquals(config, SiT.inferConfig(weights, 4, false), "the config comes back from the state_dict");

        Map<String, INDArray> in = inputs(sit, 2, 18);
        INDArray r = Nd4j.randn(DataType.DOUBLE, 2, 4, 8, 8);
        SameDiff sd = SameDiff.create();
        SiTOutputs o = build(sd, sit);
        sd.setLossVariables(o.out().orElseThrow().mul(sd.constant(r)).sum());
        Map<String, INDArray> expected = sd.calculateGradients(in, sit.trainableNames());
        SiTEngine engine = new SiTEngine(sit);
        INDArray out = engine.forward(in.get("x"), in.get("t"), in.get("y")).out().orElseThrow();
        assertTrue(relativeError(out, sd.output(in, o.out().orElseThrow().name()).get(o.out().orElseThrow().name())) < 1e-12, "output");
        Map<String, INDArray> got = engine.backward(Optional.of(r), Map.of(), Optional.empty());
        for (String name : sit.trainableNames()) {
            double err = relativeError(got.get(name), expected.get(name));
            assertTrue(err < 1e-9, name + " gradient error " + err);
        }
        assertFiniteDifferences(sit, () -> engine.forward(in.get("x"), in.get("t"), in.get("y")).out().orElseThrow().mul(r).sumNumber().doubleValue(),
                got, List.of("x_embedder.proj1.weight", "x_embedder.proj2.weight", "x_embedder.proj2.bias"), 9);
    }

    static final SiTConfig TINY_REG = new SiTConfig(8, 2, 4, 32, 3, 4, 4.0, 10, false, 0.1, 0, 12);

    /**
     * REG's global token: forward and float64 gradients of the engine against SameDiff's and central differences, with a
     * projector on the patch tokens beside it; the config comes back from the state_dict.
     */
    @Test
    void theGlobalTokensForwardAndGradientsEqualSameDiffsAndFiniteDifferencesInFloat64() {
        SiT sit = randomise(SiT.initialise(TINY_REG, List.of(new ProjectorHead(1, 48, 24)), Optional.empty(), DataType.DOUBLE, 19), 19);
        Map<String, INDArray> weights = sit.stateDict();
        assertArrayEquals(new long[]{32, 12}, weights.get("cls_projectors2.weight").shape());
        assertArrayEquals(new long[]{12, 32}, weights.get("linear_cls.weight").shape());
        assertEquals(TINY_REG, SiT.inferConfig(weights, 4, false), "the config comes back from the state_dict");
        SiT back = SiT.fromStateDict(weights, 4, false, OptionalInt.of(1), OptionalInt.empty());
        assertEquals(sit.stateDict().keySet(), back.stateDict().keySet());
        assertEquals(sit.parameter("linear_cls.weight").castTo(DataType.FLOAT), back.parameter("linear_cls.weight"));

        Map<String, INDArray> in = new java.util.HashMap<>(inputs(sit, 3, 20));
        Nd4j.getRandom().setSeed(21);
        in.put("g", Nd4j.randn(DataType.DOUBLE, 3, 12));
        INDArray rOut = Nd4j.randn(DataType.DOUBLE, 3, 4, 8, 8), rProj = Nd4j.randn(DataType.DOUBLE, 3, TINY_REG.tokens(), 24);
        INDArray rGlobal = Nd4j.randn(DataType.DOUBLE, 3, 12);

        SameDiff sd = SameDiff.create();
        SiTOutputs o = sit.build(sd, sd.placeHolder("x", DataType.DOUBLE, -1, 4, 8, 8), sd.placeHolder("g", DataType.DOUBLE, -1, 12),
                sd.placeHolder("t", DataType.DOUBLE, -1), sd.placeHolder("y", DataType.DOUBLE, -1, TINY_REG.labelRows()),
                SiT.Wiring.full(TINY_REG.depth()));
        sd.setLossVariables(o.out().orElseThrow().mul(sd.constant(rOut)).sum()
                .add(o.projections().get(0).mul(sd.constant(rProj)).sum())
                .add(o.global().orElseThrow().mul(sd.constant(rGlobal)).sum()));
        Map<String, INDArray> expected = sd.calculateGradients(in, sit.trainableNames());
        Map<String, INDArray> reference = sd.output(in, o.out().orElseThrow().name(), o.projections().get(0).name(),
                o.global().orElseThrow().name(), o.block(2).name());

        SiTEngine engine = new SiTEngine(sit);
        SiTEngine.Outputs got = engine.forward(in.get("x"), in.get("g"), in.get("t"), in.get("y"));
        assertArrayEquals(new long[]{3, TINY_REG.tokens() + 1, 32}, got.block(2).shape(), "the blocks carry the token in front");
        assertTrue(relativeError(got.out().orElseThrow(), reference.get(o.out().orElseThrow().name())) < 1e-12, "out");
        assertTrue(relativeError(got.projections().get(0), reference.get(o.projections().get(0).name())) < 1e-12, "projection");
        assertTrue(relativeError(got.global().orElseThrow(), reference.get(o.global().orElseThrow().name())) < 1e-12, "v̂_g");
        assertTrue(relativeError(got.block(2), reference.get(o.block(2).name())) < 1e-12, "block 2");
        Map<String, INDArray> grads = engine.backward(Optional.of(rOut), Map.of(0, rProj), Optional.empty(), Optional.empty(), Optional.of(rGlobal));
        for (String name : sit.trainableNames()) {
            double err = relativeError(grads.get(name), expected.get(name));
            assertTrue(err < 1e-9, name + " gradient error " + err);
        }
        assertFiniteDifferences(sit, () -> {
            SiTEngine.Outputs f = engine.forward(in.get("x"), in.get("g"), in.get("t"), in.get("y"));
            return f.out().orElseThrow().mul(rOut).sumNumber().doubleValue() + f.projections().get(0).mul(rProj).sumNumber().doubleValue()
                    + f.global().orElseThrow().mul(rGlobal).sumNumber().doubleValue();
        }, grads, List.of("cls_projectors2.weight", "cls_projectors2.bias", "linear_cls.weight", "linear_cls.bias",
                "blocks.0.attn.qkv.weight", "x_embedder.proj.weight", "projectors.0.0.weight"), 7);
    }

    @Test
    void aGlobalTokenSiTNeedsItsFeatureAndAPlainSiTRefusesOne() {
        SiT reg = SiT.initialise(TINY_REG, List.of(), Optional.empty(), DataType.FLOAT, 22);
        Map<String, INDArray> in = inputs(reg, 2, 23);
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> new SiTEngine(reg).forward(in.get("x"), in.get("t"), in.get("y")));
        assertTrue(missing.getMessage().contains("needs g_t [N, 12]"), missing.getMessage());
        IllegalArgumentException misshapen = assertThrows(IllegalArgumentException.class,
                () -> new SiTEngine(reg).forward(in.get("x"), Nd4j.zeros(DataType.FLOAT, 2, 11), in.get("t"), in.get("y")));
        assertTrue(misshapen.getMessage().contains("accepted: [2, 12]"), misshapen.getMessage());
        SiT plain = SiT.initialise(TINY, List.of(), Optional.empty(), DataType.FLOAT, 22);
        assertThrows(IllegalArgumentException.class, () -> new SiTEngine(plain).forward(in.get("x"), Nd4j.zeros(DataType.FLOAT, 2, 12),
                in.get("t"), in.get("y")));
    }

    /** The sampler's packed state [C·H·W + Dg]: its velocity is the image's v̂ then v̂_g of one forward pass. */
    @Test
    void theVelocityModelOfAGlobalTokenSiTMovesImageAndTokenAsOneState() {
        SiT sit = randomise(SiT.initialise(TINY_REG, List.of(), Optional.empty(), DataType.FLOAT, 24), 24);
        assertArrayEquals(new long[]{4 * 8 * 8 + 12}, TINY_REG.samplerState());
        Map<String, INDArray> in = inputs(sit, 2, 25);
        INDArray g = Nd4j.randn(DataType.FLOAT, 2, 12);
        INDArray state = Nd4j.concat(1, in.get("x").reshape(2, 256), g);
        INDArray v = new SiTEngine(sit).velocityModel(Prediction.VELOCITY).velocity(state, in.get("t"), Nd4j.createFromArray(3L, 10L));
        SiTEngine engine = new SiTEngine(sit);
        SiTEngine.Outputs o = engine.forward(in.get("x"), g, in.get("t"), sit.oneHot(3, 10), 3, false, false);
        assertEquals(Nd4j.concat(1, o.out().orElseThrow().reshape(2, 256), o.global().orElseThrow()), v);
        assertEquals(in.get("x"), engine.latents(state));
    }
}
