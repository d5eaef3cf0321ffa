package org.transcend.model.vae;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VaeLossTest {

    private static final VaeConfig CONFIG = VaeConfig.tiny();

    private record Setup(SameDiff sd, VaeGraph vae, VaeLoss.Terms terms, Map<String, INDArray> batch) {}

    private static Setup setup(VaeLoss.Weights weights) {
        return setup(weights, 2);
    }

    private static Setup setup(VaeLoss.Weights weights, int batchSize) {
        SameDiff sd = SameDiff.create();
        VaeGraph vae = VaeGraph.declare(sd, CONFIG, VaeGraph.initialParameters(CONFIG, 3));
        SDVariable images = sd.placeHolder("images", DataType.FLOAT, -1, 3, 16, 16);
        SDVariable noise = sd.placeHolder("noise", DataType.FLOAT, -1, 4, 8, 8);
        VaeLoss.Terms terms = VaeLoss.build(vae, images, noise, weights);
        Nd4j.getRandom().setSeed(11);
        INDArray x = Nd4j.rand(DataType.FLOAT, batchSize, 3, 16, 16).muli(2).subi(1);
        INDArray eps = Nd4j.randn(DataType.FLOAT, batchSize, 4, 8, 8);
        return new Setup(sd, vae, terms, Map.of("images", x, "noise", eps));
    }

    @Test
    void combinesPerImageSumsOfReconstructionAndWeightedKl() {
        Setup s = setup(new VaeLoss.Weights(0.5, 2.0, 0.1));
        Map<String, INDArray> out = s.sd().output(s.batch(), s.terms().loss().name(), s.terms().reconstruction().name(),
                s.terms().kl().name(), s.terms().decoded().name());
        INDArray error = s.batch().get("images").sub(out.get(s.terms().decoded().name()));
        double reconstruction = (Transforms.abs(error, true).sumNumber().doubleValue() * 0.5
                + error.mul(error).sumNumber().doubleValue() * 2.0) / 2;
        assertEquals(reconstruction, out.get(s.terms().reconstruction().name()).getDouble(0), 1e-4 * reconstruction);
        double total = reconstruction + 0.1 * out.get(s.terms().kl().name()).getDouble(0);
        assertEquals(total, out.get(s.terms().loss().name()).getDouble(0), 1e-4 * total);
    }

    @Test
    void computesTheKlOfTheClampedPosteriorAgainstTheStandardNormal() {
        Setup s = setup(VaeLoss.Weights.ldm());
        AutoencoderKL vae = new AutoencoderKL(CONFIG, s.vae().stateDict());
        Posterior p = vae.encode(s.batch().get("images"));
        INDArray variance = p.std().mul(p.std());
        INDArray logVariance = Transforms.log(variance, true);
        double expected = p.mean().mul(p.mean()).addi(variance).subi(1).subi(logVariance).sumNumber().doubleValue() * 0.5 / 2;
        double actual = s.sd().output(s.batch(), s.terms().kl().name()).get(s.terms().kl().name()).getDouble(0);
        assertEquals(expected, actual, 1e-4 * Math.abs(expected));
    }

    @Test
    void hasAGradientForEveryParameter() {
        Setup s = setup(new VaeLoss.Weights(1, 1, 1e-3));
        s.sd().setLossVariables(s.terms().loss().name());
        List<String> parameters = List.copyOf(VaeGraph.parameterShapes(CONFIG).keySet());
        Map<String, INDArray> gradients = s.sd().calculateGradients(s.batch(), parameters);
        for (String name : parameters) {
            INDArray g = gradients.get(name);
            assertNotNull(g, "gradient of " + name);
            double norm = g.norm2Number().doubleValue();
            assertTrue(Double.isFinite(norm) && norm > 0, name + " has gradient norm " + norm);
        }
    }

    @Test
    void gradientMatchesACentralDifferenceInDoublePrecision() {
        SameDiff sd = SameDiff.create();
        VaeGraph vae = VaeGraph.declare(sd, CONFIG, VaeGraph.initialParameters(CONFIG, 3), DataType.DOUBLE);
        SDVariable images = sd.placeHolder("images", DataType.DOUBLE, -1, 3, 16, 16);
        SDVariable noise = sd.placeHolder("noise", DataType.DOUBLE, -1, 4, 8, 8);
        String loss = VaeLoss.build(vae, images, noise, new VaeLoss.Weights(0.5, 1, 0.1)).loss().name();
        sd.setLossVariables(loss);
        Nd4j.getRandom().setSeed(11);
        Map<String, INDArray> batch = Map.of("images", Nd4j.rand(DataType.DOUBLE, 1, 3, 16, 16).muli(2).subi(1),
                "noise", Nd4j.randn(DataType.DOUBLE, 1, 4, 8, 8));
        List<String> parameters = List.copyOf(VaeGraph.parameterShapes(CONFIG).keySet());
        Map<String, INDArray> gradients = sd.calculateGradients(batch, parameters);

        // One direction across every parameter, then the mid attention's query alone: its gradient is small
        // beside the convolutions', so an error there would hide in the sum.
        Nd4j.getRandom().setSeed(5);
        Map<String, INDArray> everywhere = new HashMap<>();
        for (String name : parameters) everywhere.put(name, Nd4j.randn(DataType.DOUBLE, gradients.get(name).shape()).muli(1e-5));
        assertDirectionalDerivative(sd, batch, loss, gradients, everywhere);
        assertDirectionalDerivative(sd, batch, loss, gradients, Map.of("encoder.mid.attn_1.q.weight",
                Nd4j.randn(DataType.DOUBLE, 64, 64, 1, 1).muli(1e-5)));
    }

    private static void assertDirectionalDerivative(SameDiff sd, Map<String, INDArray> batch, String loss,
                                                    Map<String, INDArray> gradients, Map<String, INDArray> direction) {
        double predicted = 0;
        for (var e : direction.entrySet()) predicted += gradients.get(e.getKey()).mul(e.getValue()).sumNumber().doubleValue();
        direction.forEach((name, d) -> sd.getArrForVarName(name).addi(d));
        double plus = sd.output(batch, loss).get(loss).getDouble(0);
        direction.forEach((name, d) -> sd.getArrForVarName(name).subi(d.mul(2)));
        double minus = sd.output(batch, loss).get(loss).getDouble(0);
        direction.forEach((name, d) -> sd.getArrForVarName(name).addi(d));
        double measured = (plus - minus) / 2;
        assertEquals(measured, predicted, 1e-4 * Math.abs(measured), "directional derivative along " + direction.size()
                + " parameter(s): measured " + measured + ", from the gradient " + predicted);
    }

    @Test
    void adamStepsOnATinyBatchReduceTheLoss() {
        Setup s = setup(new VaeLoss.Weights(1, 0, 1e-3), 1);
        String loss = s.terms().loss().name();
        s.sd().setLossVariables(loss);
        s.sd().setTrainingConfig(TrainingConfig.builder().updater(new Adam(1e-3)).dataSetFeatureMapping("images", "noise").markLabelsUnused().build());
        double before = s.sd().output(s.batch(), loss).get(loss).getDouble(0);
        MultiDataSet batch = new MultiDataSet(new INDArray[]{s.batch().get("images"), s.batch().get("noise")}, new INDArray[0]);
        for (int step = 0; step < 3; step++) s.sd().fit(batch);
        double after = s.sd().output(s.batch(), loss).get(loss).getDouble(0);
        assertTrue(after < 0.8 * before, "loss went from " + before + " to " + after + " in 3 Adam steps");
    }

    @Test
    void rejectsWeightsWithoutAReconstructionTerm() {
        var e = assertThrows(IllegalArgumentException.class, () -> new VaeLoss.Weights(0, 0, 1));
        assertEquals("loss weights l1 = 0.0, l2 = 0.0, kl = 1.0; accepted: non-negative finite values with l1 + l2 > 0", e.getMessage());
    }
}
