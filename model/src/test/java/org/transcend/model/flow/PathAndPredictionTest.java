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

class PathAndPredictionTest {

    private static INDArray normal(long slot, long... shape) {
        return new CounterRng(9, Purpose.NOISE, 0, slot).normal(DataType.FLOAT, shape);
    }

    @Test
    void interpolatesEachSampleAtItsOwnTime() {
        INDArray x0 = normal(0, 3, 2, 2, 2);
        INDArray eps = normal(1, 3, 2, 2, 2);
        INDArray t = Nd4j.createFromArray(0f, 0.25f, 1f);
        INDArray xt = Path.interpolate(x0, eps, t);
        assertEquals(DataType.FLOAT, xt.dataType());
        assertEquals(x0.getFloat(0, 1, 0, 1), xt.getFloat(0, 1, 0, 1), 0f);
        assertEquals(0.75f * x0.getFloat(1, 0, 1, 1) + 0.25f * eps.getFloat(1, 0, 1, 1), xt.getFloat(1, 0, 1, 1), 1e-6f);
        assertEquals(eps.getFloat(2, 1, 1, 0), xt.getFloat(2, 1, 1, 0), 0f);
        assertEquals(eps.getFloat(1, 1, 1, 0) - x0.getFloat(1, 1, 1, 0), Path.velocity(x0, eps).getFloat(1, 1, 1, 0), 0f);
        assertEquals(1 - 0.3, Path.alpha(0.3), 0);
        assertEquals(0.3, Path.sigma(0.3), 0);
    }

    @Test
    void refusesATimeVectorOfTheWrongLength() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Path.interpolate(normal(0, 3, 4), normal(1, 3, 4), Nd4j.createFromArray(0.5f, 0.5f)));
        assertTrue(e.getMessage().contains("t has 2 entries but the batch has 3"), e.getMessage());
    }

    @Test
    void graphPathAndX0PredictionAgreeWithThePlainArrays() {
        INDArray x0 = normal(0, 3, 2, 4);
        INDArray eps = normal(1, 3, 2, 4);
        INDArray out = normal(2, 3, 2, 4);
        INDArray t = Nd4j.createFromArray(0.01f, 0.5f, 0.9f);
        SameDiff sd = SameDiff.create();
        SDVariable tb = Path.perSample(sd.placeHolder("t", DataType.FLOAT, -1), 3);
        SDVariable xt = Path.interpolate(sd.placeHolder("x0", DataType.FLOAT, -1, 2, 4), sd.placeHolder("eps", DataType.FLOAT, -1, 2, 4), tb);
        sd.identity("xt", xt);
        sd.identity("v", Prediction.X0.velocity(sd.placeHolder("out", DataType.FLOAT, -1, 2, 4), xt, tb));
        Map<String, INDArray> got = sd.output(Map.of("t", t, "x0", x0, "eps", eps, "out", out), "xt", "v");

        INDArray plainXt = Path.interpolate(x0, eps, t);
        assertEquals(0, plainXt.sub(got.get("xt")).amaxNumber().doubleValue(), 1e-6);
        INDArray plainV = Prediction.X0.velocity(out, plainXt, t);
        assertEquals(0, plainV.sub(got.get("v")).amaxNumber().doubleValue(), 1e-5);
        // t = 0.01 is clamped to 0.05; t = 0.5 is not.
        assertEquals((plainXt.getFloat(0, 1, 3) - out.getFloat(0, 1, 3)) / 0.05f, plainV.getFloat(0, 1, 3), 1e-4f);
        assertEquals((plainXt.getFloat(1, 0, 2) - out.getFloat(1, 0, 2)) / 0.5f, plainV.getFloat(1, 0, 2), 1e-5f);
        assertSame(out, Prediction.VELOCITY.velocity(out, plainXt, t));
    }

    /**
     * For x0 ~ N(0, 1) the exact velocity is E[ε − x0 | x_t] = (2t − 1)/V·x_t with V = (1−t)² + t², and
     * the exact score of x_t ~ N(0, V) is −x_t/V: the score formula must turn one into the other.
     */
    @Test
    void scoreOfTheExactGaussianVelocityIsTheGaussianScore() {
        INDArray t = Nd4j.createFromArray(0.04, 0.3, 0.7, 1.0);
        INDArray xt = new CounterRng(9, Purpose.NOISE, 1, 0).normal(DataType.DOUBLE, 4, 3);
        INDArray v = xt.dup();
        for (int i = 0; i < 4; i++) {
            double ti = t.getDouble(i);
            double var = (1 - ti) * (1 - ti) + ti * ti;
            v.getRow(i).muli((2 * ti - 1) / var);
            INDArray s = Prediction.score(v, xt, t);
            for (int j = 0; j < 3; j++) {
                assertEquals(-xt.getDouble(i, j) / var, s.getDouble(i, j), 1e-12);
            }
        }
    }
}
