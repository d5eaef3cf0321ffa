package org.transcend.model.nn;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GroupNormTest {

    @Test
    void normalisesEachGroupOverItsChannelsAndPositionsThenAppliesTheAffine() {
        assertMatchesDirectComputation(2, 64, 3, 5, 32);
        assertMatchesDirectComputation(3, 12, 4, 4, 3);
    }

    @Test
    void rejectsChannelsNotDivisibleByGroups() {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, 12, -1, -1);
        var e = assertThrows(IllegalArgumentException.class,
                () -> GroupNorm.apply(x, sd.var("w", Nd4j.ones(DataType.FLOAT, 12)), sd.var("b", Nd4j.zeros(DataType.FLOAT, 12)), 12, 5, 1e-6));
        assertEquals("GroupNorm needs channels divisible by groups; got 12 channels and 5 groups", e.getMessage());
    }

    /** Inputs with a large common offset check that the variance is taken around the mean, not as E[x²] − E[x]². */
    private static void assertMatchesDirectComputation(int n, int c, int h, int w, int groups) {
        Nd4j.getRandom().setSeed(7);
        INDArray x = Nd4j.randn(DataType.FLOAT, n, c, h, w).muli(0.5).addi(40);
        INDArray weight = Nd4j.randn(DataType.FLOAT, c);
        INDArray bias = Nd4j.randn(DataType.FLOAT, c);
        double eps = 1e-6;

        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("x", DataType.FLOAT, -1, c, -1, -1);
        SDVariable out = GroupNorm.apply(in, sd.var("weight", weight), sd.var("bias", bias), c, groups, eps);
        INDArray actual = sd.output(Map.of("x", x), out.name()).get(out.name());
        assertArrayEquals(x.shape(), actual.shape());

        int perGroup = c / groups;
        double worst = 0;
        for (int b = 0; b < n; b++) {
            for (int g = 0; g < groups; g++) {
                double sum = 0;
                int count = perGroup * h * w;
                for (int ch = g * perGroup; ch < (g + 1) * perGroup; ch++)
                    for (int i = 0; i < h; i++) for (int j = 0; j < w; j++) sum += x.getDouble(b, ch, i, j);
                double mean = sum / count, squares = 0;
                for (int ch = g * perGroup; ch < (g + 1) * perGroup; ch++)
                    for (int i = 0; i < h; i++) for (int j = 0; j < w; j++) squares += Math.pow(x.getDouble(b, ch, i, j) - mean, 2);
                double inverseStd = 1 / Math.sqrt(squares / count + eps);
                for (int ch = g * perGroup; ch < (g + 1) * perGroup; ch++)
                    for (int i = 0; i < h; i++) for (int j = 0; j < w; j++) {
                        double expected = (x.getDouble(b, ch, i, j) - mean) * inverseStd * weight.getDouble(ch) + bias.getDouble(ch);
                        worst = Math.max(worst, Math.abs(expected - actual.getDouble(b, ch, i, j)));
                    }
            }
        }
        assertEquals(0, worst, 2e-4, "largest absolute difference from the direct computation");
    }
}
