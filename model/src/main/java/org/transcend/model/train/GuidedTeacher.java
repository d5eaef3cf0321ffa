package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTEngine;

import java.util.Arrays;
import java.util.stream.LongStream;

/**
 * The frozen stage-(a) teacher of Self-Transcendence, run up to block k_t on the student's x_t and t, once with
 * the true label (f_c) and once with the null label (f_u), sharpened by classifier-free guidance:
 * {@code f_g = f_u + w·(f_c − f_u)}. Raw residual-stream features, no normalisation.
 */
public final class GuidedTeacher {

    private final SiT teacher;
    private final int block;
    private final double guidance;
    private final SiTEngine engine;

    public GuidedTeacher(SiT teacher, int block, double guidance) {
        if (block < 1 || block > teacher.config().depth()) {
            throw new IllegalArgumentException("teacher block " + block + " lies outside 1 to depth " + teacher.config().depth());
        }
        this.teacher = teacher;
        this.block = block;
        this.guidance = guidance;
        this.engine = new SiTEngine(teacher);
    }

    /** f_g [N, tokens, D] for the batch's x_t and t, conditioned on its true labels (not the dropped ones). */
    public INDArray features(TrainingBatch batch) {
        int n = batch.labels().length;
        // both halves in one pass: the true labels, then the null class
        long[] labels = LongStream.concat(Arrays.stream(batch.labels()).asLongStream(),
                LongStream.generate(() -> teacher.config().nullClass()).limit(n)).toArray();
        INDArray xt = batch.xt().castTo(teacher.dataType()), t = batch.t().castTo(teacher.dataType()).reshape(n);
        INDArray f = engine.forward(Nd4j.concat(0, xt, xt), Nd4j.concat(0, t, t), teacher.oneHot(labels), block, false, false)
                .block(block);
        INDArray fc = f.get(NDArrayIndex.interval(0, n)), fu = f.get(NDArrayIndex.interval(n, 2 * n));
        return fu.sub(fc).muli(-guidance).addi(fu);
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
