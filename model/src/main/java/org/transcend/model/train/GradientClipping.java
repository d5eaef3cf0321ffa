package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Collection;

/** Global gradient-norm clipping as {@code torch.nn.utils.clip_grad_norm_}: scale all gradients by max/(norm+1e-6) when the norm exceeds max. */
public final class GradientClipping {
    private GradientClipping() {}

    /** Clips in place and returns the norm before clipping. */
    public static double clip(Collection<INDArray> grads, double maxNorm) {
        double sq = 0;
        for (INDArray g : grads) {
            double n = g.norm2Number().doubleValue();
            sq += n * n;
        }
        double norm = Math.sqrt(sq);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) for (INDArray g : grads) g.muli(coef);
        return norm;
    }
}
