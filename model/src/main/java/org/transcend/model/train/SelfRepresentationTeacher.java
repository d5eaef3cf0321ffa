package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.flow.Path;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTEngine;

import java.util.Arrays;

/**
 * SRA's teacher: the student's own EMA, run up to block k_t at a lower noise level {@code t' = max(0, t − U[0, maxGap))}
 * on the same x0 and ε as the student ({@code x_t' = (1 − t')·x0 + t'·ε}) and the same conditioning labels. It runs in
 * the training loop, never cached: its weights change every step.
 */
public final class SelfRepresentationTeacher {

    private final SiTEngine engine;
    private final SiT ema;
    private final TrainingPlan plan;
    private final int block;
    private final double maxGap;

    /** {@code ema} computes with the EMA's live tensors (see {@link SiT#backboneOver}), so each step sees the latest average. */
    public SelfRepresentationTeacher(SiT ema, TrainingPlan plan, int block, double maxGap) {
        if (block < 1 || block > ema.config().depth()) {
            throw new IllegalArgumentException("SRA teacher block " + block + " lies outside 1 to depth " + ema.config().depth());
        }
        this.ema = ema;
        this.engine = new SiTEngine(ema);
        this.plan = plan;
        this.block = block;
        this.maxGap = maxGap;
    }

    /** The teacher's block-k_t features [N, tokens, D] for the batch, a fresh array. */
    public INDArray features(TrainingBatch batch) {
        INDArray tPrime = plan.teacherTimes(batch.slots(), maxGap).castTo(ema.dataType());
        INDArray x = Path.interpolate(batch.x0().castTo(ema.dataType()), batch.eps().castTo(ema.dataType()), tPrime);
        INDArray y = ema.oneHot(Arrays.stream(batch.conditioningLabels()).asLongStream().toArray());
        return engine.forward(x, tPrime, y, block, false, false).block(block).dup();
    }
}
