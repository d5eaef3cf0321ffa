package org.transcend.model.flow;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The linear path between data and noise, {@code x_t = alpha_t·x0 + sigma_t·ε} with {@code alpha_t = 1 − t},
 * {@code sigma_t = t}: t = 0 is clean data, t = 1 pure noise (the REPA convention). Times are per sample:
 * a batch {@code [N, ...]} goes with {@code t} of shape {@code [N]}.
 */
public final class Path {

    private Path() {}

    public static double alpha(double t) {
        return 1 - t;
    }

    public static double sigma(double t) {
        return t;
    }

    public static double alphaDerivative(double t) {
        return -1;
    }

    public static double sigmaDerivative(double t) {
        return 1;
    }

    /** {@code x_t = (1 − t)·x0 + t·ε}, in the type of {@code x0}. */
    public static INDArray interpolate(INDArray x0, INDArray eps, INDArray t) {
        INDArray tb = perSample(t, x0);
        return x0.mul(tb.rsub(1.0)).addi(eps.mul(tb));
    }

    /** {@code x_t = (1 − t)·x0 + t·ε} in a graph; {@code t} already shaped to broadcast (see {@link #perSample(SDVariable, int)}). */
    public static SDVariable interpolate(SDVariable x0, SDVariable eps, SDVariable t) {
        return x0.mul(t.rsub(1.0)).add(eps.mul(t));
    }

    /** The velocity target {@code v = dx_t/dt = ε − x0}. */
    public static INDArray velocity(INDArray x0, INDArray eps) {
        return eps.sub(x0);
    }

    /** {@code t} of shape {@code [N]} reshaped to {@code [N, 1, ..., 1]} and cast so it broadcasts against {@code like}. */
    public static INDArray perSample(INDArray t, INDArray like) {
        long n = like.size(0);
        if (t.length() != n) {
            throw new IllegalArgumentException("t has " + t.length() + " entries but the batch has " + n
                    + " samples; one time per sample is accepted");
        }
        long[] shape = new long[like.rank()];
        java.util.Arrays.fill(shape, 1);
        shape[0] = n;
        return t.castTo(like.dataType()).reshape(shape);
    }

    /** A graph's {@code t} of shape {@code [N]} reshaped to {@code [N, 1, ..., 1]} of the given rank. */
    public static SDVariable perSample(SDVariable t, int rank) {
        if (rank < 1) {
            throw new IllegalArgumentException("rank must be at least 1, got " + rank);
        }
        long[] shape = new long[rank];
        java.util.Arrays.fill(shape, 1);
        shape[0] = -1;
        return t.reshape(shape);
    }
}
