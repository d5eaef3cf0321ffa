package org.transcend.model.flow;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * What the network outputs, and how that output becomes the velocity {@code v̂} the loss and the samplers
 * use: the velocity itself (SiT), or the clean sample {@code x̂0} (JiT), converted by
 * {@code v̂ = (x_t − x̂0)/t} with t clamped to at least {@link #MIN_TIME}.
 */
public enum Prediction {
    VELOCITY,
    X0;

    /** The JiT clamp: below it {@code (x_t − x̂0)/t} would amplify errors without bound. */
    public static final double MIN_TIME = 0.05;

    /** {@code v̂} from the network output, with {@code t} of shape {@code [N]}. */
    public INDArray velocity(INDArray output, INDArray xt, INDArray t) {
        if (this == VELOCITY) {
            return output;
        }
        return xt.sub(output).divi(Transforms.max(Path.perSample(t, xt), MIN_TIME));
    }

    /**
     * The gradient with respect to the network output of a loss whose gradient with respect to {@code v̂} is
     * {@code velocityGradient}: itself for VELOCITY, {@code −g/max(t, MIN_TIME)} for X0; {@code t} of shape {@code [N]}.
     */
    public INDArray outputGradient(INDArray velocityGradient, INDArray t) {
        if (this == VELOCITY) {
            return velocityGradient;
        }
        return velocityGradient.div(Transforms.max(Path.perSample(t, velocityGradient), MIN_TIME)).negi();
    }

    /** {@code v̂} in a graph; {@code t} already shaped to broadcast against {@code xt} (see {@link Path#perSample(SDVariable, int)}). */
    public SDVariable velocity(SDVariable output, SDVariable xt, SDVariable t) {
        if (this == VELOCITY) {
            return output;
        }
        SameDiff sd = t.getSameDiff();
        return xt.sub(output).div(sd.math.max(t, sd.constant(Nd4j.scalar(t.dataType(), MIN_TIME))));
    }

    /**
     * The score on the linear path, {@code s = −(x_t + (1 − t)·v̂)/t}, from REPA's
     * {@code (α_t/α̇_t·v − x)/(σ_t² − α_t/α̇_t·σ̇_t·σ_t)}; {@code t} of shape {@code [N]}, all positive.
     */
    public static INDArray score(INDArray velocity, INDArray xt, INDArray t) {
        INDArray tb = Path.perSample(t, xt);
        return velocity.mul(tb.rsub(1.0)).addi(xt).divi(tb).negi();
    }
}
