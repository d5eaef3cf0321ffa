package org.transcend.model.flow;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.rng.CounterRng;
import org.transcend.model.rng.Purpose;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class LossesTest {

    private static INDArray normal(long slot, long... shape) {
        return new CounterRng(5, Purpose.INIT, 0, slot).normal(DataType.FLOAT, shape);
    }

    /** Samples at t = 0.39 and 0.71 are outside [0.4, 0.7]; 0.4 and 0.7 themselves are inside. */
    @Test
    void maskedMeanSquareCountsMaskedOutSamplesAsZeroAndHasTheMatchingGradient() {
        INDArray a = normal(0, 5, 2, 3);
        INDArray b = normal(1, 5, 2, 3);
        float[] times = {0.39f, 0.4f, 0.55f, 0.7f, 0.71f};
        SameDiff sd = SameDiff.create();
        SDVariable av = sd.var("a", a.dup());
        SDVariable bv = sd.placeHolder("b", DataType.FLOAT, -1, 2, 3);
        SDVariable tb = Path.perSample(sd.placeHolder("t", DataType.FLOAT, -1), 3);
        SDVariable loss = sd.identity("loss", Losses.maskedMeanSquare(av, bv, tb, TimeWindow.ALIGNMENT));
        sd.identity("diff", Losses.meanSquare(av, bv));
        Map<String, INDArray> ph = Map.of("b", b, "t", Nd4j.createFromArray(times));
        Map<String, INDArray> out = sd.output(ph, "loss", "diff");

        double expected = 0, all = 0;
        for (int i = 0; i < 5; i++) {
            double perSample = a.slice(i).sub(b.slice(i)).norm2Number().doubleValue();
            perSample = perSample * perSample / 6;
            all += perSample / 5;
            if (i >= 1 && i <= 3) {
                expected += perSample / 5;
            }
        }
        assertEquals(expected, out.get("loss").getDouble(0), 1e-6);
        assertEquals(all, out.get("diff").getDouble(0), 1e-6);

        sd.setLossVariables(loss);
        INDArray grad = sd.calculateGradients(ph, "a").get("a");
        for (int i = 0; i < 5; i++) {
            double mask = i >= 1 && i <= 3 ? 1 : 0;
            INDArray want = a.slice(i).sub(b.slice(i)).muli(2 * mask / 30.0);
            assertEquals(0, want.sub(grad.slice(i)).amaxNumber().doubleValue(), 1e-6, "sample " + i);
        }
    }

    @Test
    void negativeCosineIsMinusTheMeanCosineOverTokens() {
        INDArray a = normal(2, 2, 3, 4);
        INDArray b = normal(3, 2, 3, 4);
        b.slice(1).slice(2).assign(a.slice(1).slice(2).mul(3));
        SameDiff sd = SameDiff.create();
        sd.identity("loss", Losses.negativeCosine(sd.constant("a", a), sd.constant("b", b), 2));
        double got = sd.output(Map.of(), "loss").get("loss").getDouble(0);
        double expected = 0;
        for (int n = 0; n < 2; n++) {
            for (int k = 0; k < 3; k++) {
                INDArray u = a.slice(n).slice(k);
                INDArray w = b.slice(n).slice(k);
                expected -= u.mul(w).sumNumber().doubleValue() / (u.norm2Number().doubleValue() * w.norm2Number().doubleValue()) / 6;
            }
        }
        assertEquals(expected, got, 1e-6);
        assertThrows(IllegalArgumentException.class, () -> Losses.negativeCosine(sd.constant(a), sd.constant(b), -1));
    }

    /** Central differences in float64 on every element of a; one row of a is zero, where the norm's floor holds. */
    @Test
    void negativeCosineMatchesTheGraphAndFiniteDifferencesInFloat64() {
        INDArray a = normal(2, 3, 4, 5).castTo(DataType.DOUBLE);
        INDArray b = normal(3, 3, 4, 5).castTo(DataType.DOUBLE);
        a.get(org.nd4j.linalg.indexing.NDArrayIndex.point(1), org.nd4j.linalg.indexing.NDArrayIndex.point(2)).assign(0);
        Losses.ValueAndGradient got = Losses.negativeCosine(a, b);

        SameDiff sd = SameDiff.create();
        SDVariable graph = Losses.negativeCosine(sd.constant(a), sd.constant(b), 2);
        assertEquals(graph.eval().getDouble(0), got.value(), 1e-14);

        double h = 1e-6;
        INDArray flat = a.reshape(a.length());
        for (int i = 0; i < flat.length(); i++) {
            double keep = flat.getDouble(i);
            if (i / 5 == 4 + 2) continue; // the zero row: the floor makes the loss non-differentiable there
            flat.putScalar(i, keep + h);
            double up = Losses.negativeCosine(a, b).value();
            flat.putScalar(i, keep - h);
            double down = Losses.negativeCosine(a, b).value();
            flat.putScalar(i, keep);
            assertEquals((up - down) / (2 * h), got.gradient().reshape(a.length()).getDouble(i), 1e-8, "element " + i);
        }
        // aligned features score −1, opposite ones +1
        assertEquals(-1.0, Losses.negativeCosine(b, b.mul(3)).value(), 1e-12);
        assertEquals(1.0, Losses.negativeCosine(b, b.neg()).value(), 1e-12);
    }
}
