package org.transcend.model.flow;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The training losses of METHOD.md, as SameDiff expressions (times already shaped by
 * {@link Path#perSample(SDVariable, int)}) and as values with their gradients for {@code SiTEngine}'s backward pass.
 */
public final class Losses {

    /** A loss value and its gradient with respect to the prediction. */
    public record ValueAndGradient(double value, INDArray gradient) {}

    /** F.normalize's floor on a norm, so a zero feature has cosine 0 rather than NaN. */
    private static final double NORM_FLOOR = 1e-12;

    private Losses() {}

    /** {@code L_diff = mean‖v̂ − v‖²} over every element. */
    public static SDVariable meanSquare(SDVariable predicted, SDVariable target) {
        return predicted.getSameDiff().math.square(predicted.sub(target)).mean();
    }

    /** {@code mean‖p − target‖²} over every element, and its gradient {@code 2(p − target)/count}. */
    public static ValueAndGradient meanSquare(INDArray predicted, INDArray target) {
        INDArray diff = predicted.sub(target);
        return new ValueAndGradient(meanOfSquares(diff), diff.muli(2.0 / diff.length()));
    }

    /**
     * {@code mean_batch(1[t ∈ window]·mean‖a − b‖²)} for a batch {@code [N, ...]} with times {@code t [N]}, and its
     * gradient with respect to {@code a}; the window is tested as {@link TimeWindow#indicator(INDArray)} tests it.
     */
    public static ValueAndGradient maskedMeanSquare(INDArray a, INDArray b, INDArray t, TimeWindow window) {
        INDArray diff = a.sub(b);
        INDArray rows = diff.reshape(diff.size(0), diff.length() / diff.size(0));
        rows.muliColumnVector(window.indicator(t).castTo(a.dataType()).reshape(diff.size(0), 1));
        return new ValueAndGradient(meanOfSquares(diff), diff.muli(2.0 / diff.length()));
    }

    /** mean(x²) as one BLAS dot product: no squared copy of x (the projector's target is a million values a step). */
    private static double meanOfSquares(INDArray x) {
        INDArray flat = x.reshape(x.length());
        return Nd4j.getBlasWrapper().dot(flat, flat) / x.length();
    }

    /**
     * {@code mean_batch(1[t ∈ window]·mean‖a − b‖²)}: masked-out samples count as zero in the batch mean.
     * Because every sample has the same number of elements this is the plain mean of the masked squares.
     * Targets of masked-out samples must be finite (zeros will do), as 0·NaN is NaN.
     */
    public static SDVariable maskedMeanSquare(SDVariable a, SDVariable b, SDVariable t, TimeWindow window) {
        return a.getSameDiff().math.square(a.sub(b)).mul(window.indicator(t).castTo(a.dataType())).mean();
    }

    /**
     * REPA's alignment loss {@code −mean_tokens cos(a, b)} for features {@code [N, tokens, dim]} (cosine along the last
     * axis, as F.normalize computes it: norms floored at 1e-12), and its gradient with respect to {@code a}:
     * {@code −(b̂ − cos·â)/(‖a‖·count)}, where the norm of a is floored only {@code b̂/floor} remains.
     */
    public static ValueAndGradient negativeCosine(INDArray a, INDArray b) {
        if (!java.util.Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException("cosine alignment needs features of one shape; got " + java.util.Arrays.toString(a.shape())
                    + " and " + java.util.Arrays.toString(b.shape()));
        }
        long dim = a.size(a.rank() - 1), rows = a.length() / dim;
        INDArray ra = a.reshape(rows, dim), rb = b.castTo(a.dataType()).reshape(rows, dim);
        INDArray rawNormA = ra.norm2(1).reshape(rows, 1);
        INDArray normA = Transforms.max(rawNormA, NORM_FLOOR, true);
        INDArray normB = Transforms.max(rb.norm2(1).reshape(rows, 1), NORM_FLOOR, true);
        INDArray unitA = ra.divColumnVector(normA), unitB = rb.divColumnVector(normB);
        INDArray cos = unitA.mul(unitB).sum(1).reshape(rows, 1);
        double value = -cos.meanNumber().doubleValue();
        // the second term belongs to the normalisation of a, which a floored norm does not have
        INDArray normalised = cos.mul(rawNormA.gt(NORM_FLOOR).castTo(a.dataType()));
        INDArray gradient = unitB.subi(unitA.muliColumnVector(normalised)).diviColumnVector(normA).muli(-1.0 / rows);
        return new ValueAndGradient(value, gradient.reshape(a.shape()));
    }

    /**
     * REPA's alignment loss: {@code −cos(a, b)} along {@code featureAxis} (a positive axis, e.g. 2 for
     * {@code [N, tokens, D]}), averaged over everything else.
     */
    public static SDVariable negativeCosine(SDVariable a, SDVariable b, int featureAxis) {
        if (featureAxis < 1) {
            throw new IllegalArgumentException("featureAxis must be a positive axis (ND4J's negative-axis reductions are unreliable), got " + featureAxis);
        }
        SameDiff sd = a.getSameDiff();
        SDVariable floor = sd.constant(Nd4j.scalar(a.dataType(), NORM_FLOOR));
        SDVariable normA = sd.math.max(a.norm2(true, featureAxis), floor);
        SDVariable normB = sd.math.max(b.norm2(true, featureAxis), floor);
        return a.div(normA).mul(b.div(normB)).sum(featureAxis).mean().neg();
    }
}
