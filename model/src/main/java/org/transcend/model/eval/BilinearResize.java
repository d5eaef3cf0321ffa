package org.transcend.model.eval;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * PyTorch's {@code F.interpolate(mode="bilinear", align_corners=False, antialias=False)} as two
 * interpolation-matrix products, H_out×H · image · W×W_outᵀ, which is exact and runs as two GEMMs.
 */
public final class BilinearResize {

    private BilinearResize() {}

    /**
     * The [out, in] matrix whose row i holds the two weights PyTorch gives output pixel i: the source coordinate
     * (i + ½)·in/out − ½, clamped below at 0, split between its floor and the next pixel (clamped to the edge).
     */
    public static INDArray matrix(int in, int out) {
        if (in < 1 || out < 1) {
            throw new IllegalArgumentException("resize from " + in + " to " + out + " pixels; both must be at least 1");
        }
        double scale = (double) in / out;
        double[][] m = new double[out][in];
        for (int i = 0; i < out; i++) {
            double source = Math.max((i + 0.5) * scale - 0.5, 0.0);
            int lower = (int) source;
            int upper = Math.min(lower + 1, in - 1);
            double fraction = source - lower;
            m[i][lower] += 1 - fraction;
            m[i][upper] += fraction;
        }
        return Nd4j.create(m).castTo(DataType.FLOAT);
    }

    /** Resizes images [N, C, H, W] to [N, C, height, width]. */
    public static INDArray resize(INDArray images, int height, int width) {
        if (images.rank() != 4) {
            throw new IllegalArgumentException("images have shape " + java.util.Arrays.toString(images.shape()) + "; expected [N, C, H, W]");
        }
        long planes = images.size(0) * images.size(1);
        int h = (int) images.size(2), w = (int) images.size(3);
        INDArray x = images.castTo(DataType.FLOAT).dup('c');
        INDArray alongWidth = x.reshape('c', planes * h, w).mmul(matrix(w, width).transpose());
        // Bring the height axis to the front so that the second product is one matrix times one matrix.
        INDArray heightFirst = alongWidth.reshape('c', planes, h, width).permute(1, 0, 2).dup('c').reshape('c', h, planes * width);
        INDArray alongHeight = matrix(h, height).mmul(heightFirst);
        return alongHeight.reshape('c', height, planes, width).permute(1, 0, 2).dup('c')
                .reshape('c', images.size(0), images.size(1), height, width);
    }
}
