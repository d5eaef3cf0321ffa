package org.transcend.model.vae;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;

/**
 * The diagonal Gaussian posterior q(z | x) of a batch of images: {@code mean} and {@code std} [N, z, h, w], and
 * the {@code moments} [N, 2·z, h, w] they come from (mean, then the unclamped log-variance, along channels).
 */
public record Posterior(INDArray mean, INDArray std, INDArray moments) {

    /** The reparameterised sample {@code mean + std · noise}, for standard normal {@code noise} of the mean's shape. */
    public INDArray sample(INDArray noise) {
        if (!Arrays.equals(noise.shape(), mean.shape())) {
            throw new IllegalArgumentException("noise has shape " + Arrays.toString(noise.shape()) + "; expected the posterior's "
                    + Arrays.toString(mean.shape()));
        }
        return noise.mul(std).addi(mean);
    }
}
