package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;

/**
 * The training set in latent space, held in memory: each image's posterior mean and std [N, C, H, W] (unscaled),
 * its label, and the scale and shift that bring a posterior sample to the network's input,
 * {@code x0 = (sample − shift)·scale}.
 */
public record LatentData(INDArray mean, INDArray std, int[] labels, double scale, double shift) {

    public LatentData {
        if (!Arrays.equals(mean.shape(), std.shape())) {
            throw new IllegalArgumentException("posterior mean " + Arrays.toString(mean.shape()) + " and std "
                    + Arrays.toString(std.shape()) + " must have one shape");
        }
        if (mean.size(0) != labels.length) {
            throw new IllegalArgumentException(mean.size(0) + " latents but " + labels.length + " labels");
        }
    }

    public long size() {
        return labels.length;
    }

    /** One latent's shape [C, H, W]. */
    public long[] sampleShape() {
        return Arrays.copyOfRange(mean.shape(), 1, mean.rank());
    }
}
