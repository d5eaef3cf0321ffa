package org.transcend.model.vae;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.train.GradientFunction;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VaeEngineTest {

    /**
     * Every kind of layer on a few pixels: attention at the second level (side 4) besides the mid blocks,
     * nin_shortcuts where the channel count changes, 4 GroupNorm groups, 3 latent channels, 2 image channels.
     */
    static final VaeConfig SMALL = new VaeConfig(2, 2, 8, 8, List.of(1, 2), 1, List.of(4), 3, true, 4).validate();
    private static final VaeLoss.Weights WEIGHTS = new VaeLoss.Weights(0.5, 1.0, 0.1);

    private record Batch(INDArray images, INDArray noise) {}

    private static Batch batch(DataType type) {
        Nd4j.getRandom().setSeed(11);
        return new Batch(Nd4j.rand(type, 2, 2, 8, 8).muli(2).subi(1), Nd4j.randn(type, 2, 3, 4, 4));
    }

    /**
     * Parameters in DOUBLE where the first log-variance channel is clamped at 20 and the third at −30 everywhere, so
     * the clamp's gradient mask is exercised beside an unclamped channel.
     */
    private static Map<String, INDArray> clampingParameters() {
        Map<String, INDArray> p = new LinkedHashMap<>();
        VaeGraph.initialParameters(SMALL, 3).forEach((name, value) -> p.put(name, value.castTo(DataType.DOUBLE)));
        p.get("quant_conv.bias").putScalar(3, 24.0);
        p.get("quant_conv.bias").putScalar(5, -34.0);
        return p;
    }

    @Test
    void lossAndGradientsMatchTheSameDiffReferenceGraph() {
        Map<String, INDArray> parameters = clampingParameters();
        Batch b = batch(DataType.DOUBLE);

        SameDiff sd = SameDiff.create();
        VaeGraph graph = VaeGraph.declare(sd, SMALL, parameters, DataType.DOUBLE);
        SDVariable images = sd.placeHolder("images", DataType.DOUBLE, -1, 2, 8, 8);
        SDVariable noise = sd.placeHolder("noise", DataType.DOUBLE, -1, 3, 4, 4);
        VaeLoss.Terms terms = VaeLoss.build(graph, images, noise, WEIGHTS);
        sd.setLossVariables(terms.loss().name());
        GradientFunction.create(sd);
        Map<String, INDArray> feed = Map.of("images", b.images(), "noise", b.noise());
        Map<String, INDArray> expectedOut = sd.output(feed, terms.loss().name(), terms.reconstruction().name(), terms.kl().name());
        Map<String, INDArray> expected = sd.calculateGradients(feed, List.copyOf(parameters.keySet()));

        VaeEngine engine = new VaeEngine(SMALL, parameters);
        VaeEngine.LossTerms actualOut = engine.loss(b.images(), b.noise(), WEIGHTS);
        Map<String, INDArray> actual = engine.backward();

        assertEquals(expectedOut.get(terms.loss().name()).getDouble(0), actualOut.loss(), 1e-10 * Math.abs(actualOut.loss()));
        assertEquals(expectedOut.get(terms.reconstruction().name()).getDouble(0), actualOut.reconstruction(), 1e-10 * actualOut.reconstruction());
        assertEquals(expectedOut.get(terms.kl().name()).getDouble(0), actualOut.kl(), 1e-10 * actualOut.kl());
        for (String name : parameters.keySet()) {
            double scale = expected.get(name).norm2Number().doubleValue();
            double error = actual.get(name).sub(expected.get(name)).norm2Number().doubleValue();
            assertTrue(error <= 1e-9 * scale + 1e-12, name + ": gradient differs by " + error + " (norm " + scale + ")");
        }
        assertEquals(0.0, actual.get("quant_conv.weight").get(org.nd4j.linalg.indexing.NDArrayIndex.point(3)).amaxNumber().doubleValue(),
                "a clamped log-variance passes no gradient");
    }

    /**
     * On the smooth objective (no L1 term, whose kinks a finite step may cross) and without clamping (a clamped
     * log-variance of 20 puts e^20 into the KL term, and the difference would drown in its rounding); both are
     * checked against SameDiff above.
     */
    @Test
    void gradientMatchesACentralDifference() {
        Map<String, INDArray> parameters = new LinkedHashMap<>();
        VaeGraph.initialParameters(SMALL, 3).forEach((name, value) -> parameters.put(name, value.castTo(DataType.DOUBLE)));
        Batch b = batch(DataType.DOUBLE);
        VaeEngine engine = new VaeEngine(SMALL, parameters);
        VaeLoss.Weights smooth = new VaeLoss.Weights(0, 1.0, 0.1);
        engine.loss(b.images(), b.noise(), smooth);
        Map<String, INDArray> gradients = new HashMap<>();
        engine.backward().forEach((name, g) -> gradients.put(name, g.dup()));

        Nd4j.getRandom().setSeed(5);
        Map<String, INDArray> direction = new HashMap<>();
        double predicted = 0;
        for (String name : parameters.keySet()) {
            INDArray d = Nd4j.randn(DataType.DOUBLE, parameters.get(name).shape()).muli(1e-6);
            direction.put(name, d);
            predicted += gradients.get(name).mul(d).sumNumber().doubleValue();
        }
        direction.forEach((name, d) -> parameters.get(name).addi(d));
        double plus = engine.loss(b.images(), b.noise(), smooth).loss();
        direction.forEach((name, d) -> parameters.get(name).subi(d.mul(2)));
        double minus = engine.loss(b.images(), b.noise(), smooth).loss();
        double measured = (plus - minus) / 2;
        assertEquals(measured, predicted, 1e-6 * Math.abs(measured), "measured " + measured + ", from the gradient " + predicted);
    }

    @Test
    void encodesAndDecodesAsTheReferenceGraphAtAnyBatchSize() {
        Map<String, INDArray> parameters = VaeGraph.initialParameters(SMALL, 4);
        SameDiff sd = SameDiff.create();
        VaeGraph graph = VaeGraph.declare(sd, SMALL, parameters);
        SDVariable images = sd.placeHolder("images", DataType.FLOAT, -1, 2, 8, 8);
        SDVariable latents = sd.placeHolder("latents", DataType.FLOAT, -1, 3, 4, 4);
        VaeGraph.PosteriorVariables posterior = graph.posterior(graph.moments(images));
        SDVariable decoded = graph.decode(latents);

        VaeEngine engine = new VaeEngine(SMALL, parameters);
        for (int n : new int[]{3, 1, 3}) {
            Nd4j.getRandom().setSeed(n);
            INDArray x = Nd4j.rand(DataType.FLOAT, n, 2, 8, 8).muli(2).subi(1);
            INDArray z = Nd4j.randn(DataType.FLOAT, n, 3, 4, 4);
            Map<String, INDArray> ref = sd.output(Map.of("images", x, "latents", z), posterior.mean().name(), posterior.std().name(),
                    decoded.name());
            Posterior p = engine.encode(x);
            AutoencoderKLParityTest.assertClose("mean", ref.get(posterior.mean().name()), p.mean(), 1e-5);
            AutoencoderKLParityTest.assertClose("std", ref.get(posterior.std().name()), p.std(), 1e-5);
            AutoencoderKLParityTest.assertClose("decoded", ref.get(decoded.name()), engine.decode(z), 1e-5);
        }
    }

    @Test
    void namesWhatIsWrongWithItsInputs() {
        VaeEngine engine = new VaeEngine(SMALL, VaeGraph.initialParameters(SMALL, 4));
        var noise = assertThrows(IllegalArgumentException.class,
                () -> engine.loss(Nd4j.zeros(DataType.FLOAT, 2, 2, 8, 8), Nd4j.zeros(DataType.FLOAT, 2, 3, 8, 8), WEIGHTS));
        assertEquals("noise has shape [2, 3, 8, 8]; expected [2, 3, 4, 4] for images [2, 2, 8, 8]", noise.getMessage());
        var images = assertThrows(IllegalArgumentException.class, () -> engine.encode(Nd4j.zeros(DataType.FLOAT, 2, 3, 8, 8)));
        assertEquals("images have shape [2, 3, 8, 8]; expected [N, 2, H, W] with N > 0 and H, W divisible by 2", images.getMessage());
        var backward = assertThrows(IllegalStateException.class, engine::backward);
        assertEquals("backward needs a training pass: call loss(...) first", backward.getMessage());
    }

    @Test
    void refusesParametersOfMixedTypes() {
        Map<String, INDArray> parameters = VaeGraph.initialParameters(SMALL, 4);
        parameters.put("decoder.conv_out.bias", parameters.get("decoder.conv_out.bias").castTo(DataType.DOUBLE));
        var e = assertThrows(IllegalArgumentException.class, () -> new VaeEngine(SMALL, parameters));
        assertEquals("parameter decoder.conv_out.bias is DOUBLE; accepted: every parameter FLOAT or every parameter DOUBLE (here FLOAT)",
                e.getMessage());
    }

    @Test
    void encodesAnImageAloneAsInABatch() {
        AutoencoderKL vae = AutoencoderKL.initialized(VaeConfig.tiny(), 2);
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.rand(DataType.FLOAT, 5, 3, 16, 16);
        INDArray whole = vae.encode(x).mean();
        for (int i = 0; i < 5; i++) {
            INDArray one = vae.encode(x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(i, i + 1))).mean();
            assertArrayEquals(whole.slice(i).shape(), one.slice(0).shape());
            AutoencoderKLParityTest.assertClose("image " + i, whole.slice(i), one.slice(0), 1e-6);
        }
    }
}
