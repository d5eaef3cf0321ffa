package org.transcend.model.train;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** AdamW and the EMA against PyTorch's update rules written out element by element in double precision. */
class OptimizerTest {

    private static final int SIZE = 257;

    @Test
    void adamWFollowsTorchOptimAdamW() {
        AdamW.Hyper hyper = new AdamW.Hyper(3e-3, 0.9, 0.999, 1e-8, 0.01);
        SplittableRandom random = new SplittableRandom(7);
        double[] p = new double[SIZE], m = new double[SIZE], v = new double[SIZE];
        for (int i = 0; i < SIZE; i++) p[i] = random.nextGaussian();
        Map<String, INDArray> params = new LinkedHashMap<>(Map.of("w", Nd4j.createFromArray(toFloat(p))));
        AdamW adam = new AdamW(hyper);
        for (int step = 1; step <= 5; step++) {
            double[] g = new double[SIZE];
            // Gradients spanning tiny to large, so ε's placement matters in the first steps.
            for (int i = 0; i < SIZE; i++) g[i] = random.nextGaussian() * Math.pow(10, -8 + (i % 9));
            float[] gf = toFloat(g);
            adam.update(params, Map.of("w", Nd4j.createFromArray(gf)), step);
            double bc1 = 1 - Math.pow(hyper.beta1(), step), bc2 = 1 - Math.pow(hyper.beta2(), step);
            for (int i = 0; i < SIZE; i++) {
                p[i] *= 1 - hyper.lr() * hyper.weightDecay();
                m[i] = hyper.beta1() * m[i] + (1 - hyper.beta1()) * gf[i];
                v[i] = hyper.beta2() * v[i] + (1 - hyper.beta2()) * gf[i] * gf[i];
                p[i] -= hyper.lr() / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + hyper.eps());
            }
            float[] got = params.get("w").toFloatVector();
            for (int i = 0; i < SIZE; i++) assertEquals(p[i], got[i], 2e-6 * Math.max(1, Math.abs(p[i])), "step " + step + " element " + i);
        }
        float[] moments = adam.state().get("adam.v.w").toFloatVector();
        for (int i = 0; i < SIZE; i++) assertEquals(v[i], moments[i], 1e-4 * v[i] + 1e-30, "second moment " + i); // float accumulation of squares
    }

    @Test
    void adamWRefusesAStepBeforeTheFirst() {
        AdamW adam = new AdamW(AdamW.Hyper.paper());
        Map<String, INDArray> params = Map.of("w", Nd4j.zeros(DataType.FLOAT, 3));
        assertThrows(IllegalArgumentException.class, () -> adam.update(params, Map.of("w", Nd4j.ones(DataType.FLOAT, 3)), 0));
    }

    @Test
    void emaIsDecayTimesShadowPlusTheRestTimesTheWeights() {
        INDArray w = Nd4j.createFromArray(1f, -2f, 3f, 0.5f);
        Ema ema = new Ema(0.9, Map.of("w", w));
        w.assign(Nd4j.createFromArray(2f, 2f, -1f, 0.5f));
        ema.update(Map.of("w", w));
        float[] got = ema.weights().get("w").toFloatVector();
        float[] want = {1.1f, -1.6f, 2.6f, 0.5f};
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-6, "element " + i);
    }

    private static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }
}
