package org.transcend.model.eval;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;

/** The identity feature network: an image's [0, 1] pixels, flattened, for a Fréchet distance on small images ("FD-pixels"). */
public final class PixelFeatures implements FeatureNetwork {

    /** The largest C·H·W accepted: the covariance is dimension², and its eigen decomposition dimension³. */
    public static final int MAX_DIMENSION = 4096;

    private final int channels;
    private final int height;
    private final int width;

    public PixelFeatures(int channels, int height, int width) {
        long d = (long) channels * height * width;
        if (channels < 1 || height < 1 || width < 1 || d > MAX_DIMENSION) {
            throw new IllegalArgumentException("pixel features of " + channels + "x" + height + "x" + width + " images; accepted: "
                    + "positive sizes with C·H·W at most " + MAX_DIMENSION + " (28×28 or 32×32×3 images, not larger)");
        }
        this.channels = channels;
        this.height = height;
        this.width = width;
    }

    @Override
    public INDArray features(INDArray images01) {
        if (images01.rank() != 4 || images01.size(1) != channels || images01.size(2) != height || images01.size(3) != width) {
            throw new IllegalArgumentException("images have shape " + Arrays.toString(images01.shape()) + "; expected [N, "
                    + channels + ", " + height + ", " + width + "]");
        }
        return images01.castTo(DataType.FLOAT).dup('c').reshape(images01.size(0), featureDimension());
    }

    @Override
    public int featureDimension() {
        return channels * height * width;
    }
}
