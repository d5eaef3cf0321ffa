package org.transcend.model.eval;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class BilinearResizeTest {

    @Test
    void upsamplingClampsTheSourceCoordinateAtTheEdges() {
        // Sources (i + 0.5)·2/4 − 0.5 = −0.25 (clamped to 0), 0.25, 0.75, 1.25 (upper neighbour clamped to 1).
        double[][] expected = {{1, 0}, {0.75, 0.25}, {0.25, 0.75}, {0, 1}};
        assertArrayEquals(expected, BilinearResize.matrix(2, 4).castTo(DataType.DOUBLE).toDoubleMatrix());
    }

    @Test
    void downsamplingAveragesNeighbourPairsWithoutAntialias() {
        double[][] expected = {{0.5, 0.5, 0, 0, 0, 0}, {0, 0, 0.5, 0.5, 0, 0}, {0, 0, 0, 0, 0.5, 0.5}};
        assertArrayEquals(expected, BilinearResize.matrix(6, 3).castTo(DataType.DOUBLE).toDoubleMatrix());
    }

    @Test
    void resizeToTheSameSizeIsTheIdentity() {
        INDArray x = Nd4j.rand(DataType.FLOAT, 2, 3, 5, 7);
        assertEquals(x, BilinearResize.resize(x, 5, 7));
    }

    @Test
    void resizeMatchesThePerPixelInterpolationFormula() {
        int h = 3, w = 4, outH = 7, outW = 5;
        SplittableRandom r = new SplittableRandom(3);
        INDArray x = Nd4j.create(DataType.FLOAT, 2, 2, h, w);
        for (long i = 0; i < x.length(); i++) x.putScalar(i, r.nextDouble());
        INDArray y = BilinearResize.resize(x, outH, outW);
        assertArrayEquals(new long[]{2, 2, outH, outW}, y.shape());
        for (int n = 0; n < 2; n++) for (int c = 0; c < 2; c++) for (int i = 0; i < outH; i++) for (int j = 0; j < outW; j++) {
            double sy = Math.max((i + 0.5) * h / outH - 0.5, 0), sx = Math.max((j + 0.5) * w / outW - 0.5, 0);
            int y0 = (int) sy, x0 = (int) sx, y1 = Math.min(y0 + 1, h - 1), x1 = Math.min(x0 + 1, w - 1);
            double fy = sy - y0, fx = sx - x0;
            double expected = (1 - fy) * ((1 - fx) * x.getDouble(n, c, y0, x0) + fx * x.getDouble(n, c, y0, x1))
                    + fy * ((1 - fx) * x.getDouble(n, c, y1, x0) + fx * x.getDouble(n, c, y1, x1));
            assertEquals(expected, y.getDouble(n, c, i, j), 1e-6);
        }
    }
}
