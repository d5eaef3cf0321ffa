package org.transcend.model.sit;

import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class LayersTest {

    private static INDArray random(long seed, long... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        INDArray a = Nd4j.create(DataType.DOUBLE, shape);
        for (long i = 0; i < a.length(); i++) a.putScalar(i, 3 * r.nextGaussian() + 0.5);
        return a;
    }

    private static INDArray eval(SameDiff sd, SDVariable v) {
        return sd.output(java.util.Map.of(), v.name()).get(v.name());
    }

    @Test
    void layerNormOnTheLastAxisMatchesTheDefinitionPerRow() {
        INDArray x = random(1, 2, 3, 5);
        SameDiff sd = SameDiff.create();
        INDArray got = eval(sd, Layers.layerNorm(sd, sd.constant(x), 2, 1e-6));
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                double[] row = x.get(org.nd4j.linalg.indexing.NDArrayIndex.point(i), org.nd4j.linalg.indexing.NDArrayIndex.point(j)).toDoubleVector();
                double mean = java.util.Arrays.stream(row).average().orElseThrow();
                double var = java.util.Arrays.stream(row).map(v -> (v - mean) * (v - mean)).sum() / row.length;
                for (int k = 0; k < 5; k++) {
                    assertEquals((row[k] - mean) / Math.sqrt(var + 1e-6), got.getDouble(i, j, k), 1e-12);
                }
            }
        }
    }

    @Test
    void layerNormRefusesNegativeAxes() {
        SameDiff sd = SameDiff.create();
        assertThrows(IllegalArgumentException.class, () -> Layers.layerNorm(sd, sd.constant(random(1, 2, 3)), -1, 1e-6));
    }

    @Test
    void geluTanhMatchesTheTanhFormulaNotTheErfOne() {
        INDArray x = Nd4j.createFromArray(-3.0, -1.0, -0.2, 0.0, 0.7, 2.5);
        SameDiff sd = SameDiff.create();
        INDArray got = eval(sd, Layers.geluTanh(sd, sd.constant(x)));
        for (int i = 0; i < x.length(); i++) {
            double v = x.getDouble(i);
            double expected = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
            assertEquals(expected, got.getDouble(i), 1e-14);
        }
        // GELU(1) by the tanh form is 0.841192; by erf it is 0.841345: the difference pins the form
        assertEquals(0.8411919906082768, eval(sd, Layers.geluTanh(sd, sd.constant(Nd4j.scalar(1.0)))).getDouble(0), 1e-12);
    }

    @Test
    void siluIsXTimesSigmoidX() {
        INDArray x = Nd4j.createFromArray(-4.0, -0.5, 0.0, 1.5);
        SameDiff sd = SameDiff.create();
        INDArray got = eval(sd, Layers.silu(sd, sd.constant(x)));
        for (int i = 0; i < x.length(); i++) {
            double v = x.getDouble(i);
            assertEquals(v / (1 + Math.exp(-v)), got.getDouble(i), 1e-14);
        }
    }

    @Test
    void attentionNormalisesOverKeysForEachQuery() {
        INDArray q = random(2, 2, 3, 4, 5), k = random(3, 2, 3, 4, 5), v = random(4, 2, 3, 4, 5);
        double scale = 0.3;
        SameDiff sd = SameDiff.create();
        INDArray got = eval(sd, Layers.attention(sd, sd.constant(q), sd.constant(k), sd.constant(v), scale));
        assertArrayEquals(new long[]{2, 3, 4, 5}, got.shape());
        for (int n = 0; n < 2; n++) {
            for (int h = 0; h < 3; h++) {
                for (int i = 0; i < 4; i++) {
                    double[] s = new double[4];
                    double max = Double.NEGATIVE_INFINITY, total = 0;
                    for (int j = 0; j < 4; j++) {
                        for (int e = 0; e < 5; e++) s[j] += q.getDouble(n, h, i, e) * scale * k.getDouble(n, h, j, e);
                        max = Math.max(max, s[j]);
                    }
                    for (int j = 0; j < 4; j++) total += s[j] = Math.exp(s[j] - max);
                    for (int e = 0; e < 5; e++) {
                        double expected = 0;
                        for (int j = 0; j < 4; j++) expected += s[j] / total * v.getDouble(n, h, j, e);
                        assertEquals(expected, got.getDouble(n, h, i, e), 1e-12);
                    }
                }
            }
        }
    }

    @Test
    void linearUsesThePyTorchWeightLayout() {
        INDArray x = random(5, 3, 4), w = random(6, 2, 4), b = Nd4j.createFromArray(0.25, -1.0);
        SameDiff sd = SameDiff.create();
        INDArray got = eval(sd, Layers.linear(sd, sd.constant(x), sd.constant(w), sd.constant(b)));
        INDArray expected = x.mmul(w.transpose()).addRowVector(b);
        assertEquals(0, got.sub(expected).amaxNumber().doubleValue(), 1e-12);
    }

    @Test
    void oneHotRowsTimesTheTableSelectTheRowsExactly() {
        SiT sit = SiT.initialise(new SiTConfig(4, 2, 1, 8, 1, 2, 4.0, 3, false, 0.1), java.util.List.of(),
                java.util.Optional.empty(), DataType.FLOAT, 7);
        INDArray table = sit.stateDict().get("y_embedder.embedding_table.weight");
        SameDiff sd = SameDiff.create();
        INDArray got = eval(sd, sd.mmul(sd.constant(sit.oneHot(2, 3, 0)), sd.constant(table)));
        assertEquals(table.getRow(2), got.getRow(0));
        assertEquals(table.getRow(3), got.getRow(1));
        assertEquals(table.getRow(0), got.getRow(2));
        assertThrows(IllegalArgumentException.class, () -> sit.oneHot(4));
    }

    @Test
    void patchifyIsAConvolutionWithKernelAndStrideP() {
        int n = 2, c = 3, grid = 2, p = 2, d = 5;
        INDArray x = random(8, n, c, grid * p, grid * p), w = random(9, d, c, p, p);
        SameDiff sd = SameDiff.create();
        SDVariable rows = Layers.patchify(sd, sd.constant(x), c, grid, p);
        INDArray got = eval(sd, sd.mmul(rows, sd.reshape(sd.constant(w), d, c * p * p), false, true, false));
        for (int b = 0; b < n; b++) {
            for (int gi = 0; gi < grid; gi++) {
                for (int gj = 0; gj < grid; gj++) {
                    for (int o = 0; o < d; o++) {
                        double expected = 0;
                        for (int ch = 0; ch < c; ch++)
                            for (int i = 0; i < p; i++)
                                for (int j = 0; j < p; j++)
                                    expected += w.getDouble(o, ch, i, j) * x.getDouble(b, ch, gi * p + i, gj * p + j);
                        assertEquals(expected, got.getDouble((long) b * grid * grid + gi * grid + gj, o), 1e-12);
                    }
                }
            }
        }
    }

    @Test
    void unpatchifyPlacesPatchValuesInRowColumnChannelOrder() {
        int grid = 2, p = 2, c = 3;
        INDArray tokens = Nd4j.arange(grid * grid * p * p * c).castTo(DataType.DOUBLE).reshape(1, grid * grid, p * p * c);
        SameDiff sd = SameDiff.create();
        INDArray image = eval(sd, Layers.unpatchify(sd, sd.constant(tokens), c, grid, p));
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < grid * p; y++)
                for (int x = 0; x < grid * p; x++) {
                    int token = (y / p) * grid + x / p;
                    int inPatch = ((y % p) * p + x % p) * c + ch;
                    assertEquals(tokens.getDouble(0, token, inPatch), image.getDouble(0, ch, y, x), 0.0);
                }
    }
}
