package org.transcend.model.train;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTOutputs;

import java.util.Map;

/**
 * The frozen stage-(a) teacher of Self-Transcendence, run up to block k_t on the student's x_t and t, once with
 * the true label (f_c) and once with the null label (f_u), sharpened by classifier-free guidance:
 * {@code f_g = f_u + w·(f_c − f_u)}. Raw residual-stream features, no normalisation.
 */
public final class GuidedTeacher {

    private final SiT teacher;
    private final int block;
    private final double guidance;
    private final SameDiff sd;

    public GuidedTeacher(SiT teacher, int block, double guidance) {
        this.teacher = teacher;
        this.block = block;
        this.guidance = guidance;
        this.sd = SameDiff.create();
        DataType type = teacher.dataType();
        long[] x = {-1, teacher.config().inChannels(), teacher.config().inputSize(), teacher.config().inputSize()};
        SDVariable xt = sd.placeHolder("x_t", type, x);
        SDVariable t = sd.placeHolder("t", type, -1);
        SDVariable yc = sd.placeHolder("y_c", type, -1, teacher.config().labelRows());
        SDVariable yu = sd.placeHolder("y_u", type, -1, teacher.config().labelRows());
        SiT.Wiring wiring = SiT.Wiring.frozenUpTo("teacher/", block);
        SiTOutputs c = teacher.build(sd, xt, t, yc, wiring);
        SiTOutputs u = teacher.build(sd, xt, t, yu, wiring);
        SDVariable fu = u.block(block);
        fu.sub(c.block(block)).mul(-guidance).add(fu).rename("f_g");
    }

    /** f_g [N, tokens, D] for the batch's x_t and t, conditioned on its true labels (not the dropped ones). */
    public INDArray features(TrainingBatch batch) {
        long[] y = java.util.Arrays.stream(batch.labels()).asLongStream().toArray();
        long[] nul = new long[y.length];
        java.util.Arrays.fill(nul, teacher.config().nullClass());
        Map<String, INDArray> in = Map.of("x_t", batch.xt(), "t", batch.t(), "y_c", teacher.oneHot(y), "y_u", teacher.oneHot(nul));
        return sd.output(in, "f_g").get("f_g");
    }

    public int block() {
        return block;
    }

    public double guidance() {
        return guidance;
    }

    public SiT teacher() {
        return teacher;
    }

}
