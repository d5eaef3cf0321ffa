package org.transcend.model.flow;

import java.io.Serializable;

/**
 * RAE's dimension-dependent time shift {@code t_m = α·t / (1 + (α − 1)·t)}: with α > 1 it moves times towards
 * noise (t = 1), which a larger input needs to destroy the same amount of signal. Both training times and the
 * sampler's time grid go through it; α = 1 is the identity.
 */
public record TimeShift(double alpha) implements Serializable {

    /** No shift. */
    public static final TimeShift NONE = new TimeShift(1);

    public TimeShift {
        if (!(alpha > 0) || !Double.isFinite(alpha)) {
            throw new IllegalArgumentException("time-shift alpha is " + alpha + "; accepted: a finite number > 0 (1 = no shift)");
        }
    }

    /** α = √(m/n) for an input of m values per sample and RAE's base dimension n (4096 in RAE). */
    public static TimeShift forDimensions(long inputDims, long baseDims) {
        if (inputDims < 1 || baseDims < 1) {
            throw new IllegalArgumentException("time-shift dimensions must be at least 1; got input " + inputDims + ", base " + baseDims);
        }
        return new TimeShift(Math.sqrt((double) inputDims / baseDims));
    }

    public boolean isIdentity() {
        return alpha == 1;
    }

    /** {@code t_m = α·t / (1 + (α − 1)·t)}; maps [0, 1] onto itself, monotonically. */
    public double apply(double t) {
        return alpha * t / (1 + (alpha - 1) * t);
    }
}
