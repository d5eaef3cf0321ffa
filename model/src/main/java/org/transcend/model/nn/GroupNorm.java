package org.transcend.model.nn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Group normalisation (Wu and He, 2018) of NCHW tensors as SameDiff ops, since SameDiff has no GroupNorm op. */
public final class GroupNorm {

    private GroupNorm() {}

    /**
     * Normalises {@code x} [N, C, H, W] by the mean and biased variance of each group of C/groups channels over
     * all positions, then applies the per-channel {@code weight} and {@code bias} [C], as PyTorch's GroupNorm.
     *
     * <p>Per-channel statistics are averaged into group statistics by a [C, G] matrix: every channel of a group
     * covers the same number of positions, so the mean of channel means is the group mean. Doing so needs no
     * reshape that names N, H or W (the graph accepts any batch and image size) and reduces only over positive
     * axes. The variance is taken around the group mean (two passes), as PyTorch does, not as E[x²] − E[x]².
     */
    public static SDVariable apply(SDVariable x, SDVariable weight, SDVariable bias, int channels, int groups, double eps) {
        if (groups <= 0 || channels % groups != 0) {
            throw new IllegalArgumentException("GroupNorm needs channels divisible by groups; got " + channels
                    + " channels and " + groups + " groups");
        }
        SameDiff sd = x.getSameDiff();
        DataType type = x.dataType();
        int perGroup = channels / groups;
        INDArray toGroups = Nd4j.zeros(type, channels, groups);
        INDArray toChannels = Nd4j.zeros(type, groups, channels);
        for (int c = 0; c < channels; c++) {
            toGroups.putScalar(c, c / perGroup, 1.0 / perGroup);
            toChannels.putScalar(c / perGroup, c, 1.0);
        }
        SDVariable pool = sd.constant(toGroups);
        SDVariable spread = sd.constant(toChannels);

        SDVariable groupMean = sd.mmul(sd.mean(x, false, 2, 3), pool);
        SDVariable centred = x.sub(sd.reshape(sd.mmul(groupMean, spread), -1, channels, 1, 1));
        SDVariable groupVariance = sd.mmul(sd.mean(sd.math.square(centred), false, 2, 3), pool);
        SDVariable inverseStd = sd.math.rsqrt(groupVariance.add(eps));
        SDVariable normalised = centred.mul(sd.reshape(sd.mmul(inverseStd, spread), -1, channels, 1, 1));
        return normalised.mul(sd.reshape(weight, 1, channels, 1, 1)).add(sd.reshape(bias, 1, channels, 1, 1));
    }
}
