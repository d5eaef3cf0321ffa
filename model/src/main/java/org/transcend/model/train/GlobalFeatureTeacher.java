package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTEngine;

/**
 * REG's global feature g of an image, without an external encoder: the frozen warmup teacher run on the clean latent
 * (t = 0, the true label) up to block k, its tokens mean-pooled into one vector of width D.
 */
public final class GlobalFeatureTeacher {

    private final SiT teacher;
    private final int block;
    private final SiTEngine engine;

    public GlobalFeatureTeacher(SiT teacher, int block) {
        if (block < 1 || block > teacher.config().depth()) {
            throw new IllegalArgumentException("reg.teacher-block is " + block + "; accepted: 1 to the teacher's depth " + teacher.config().depth());
        }
        if (teacher.config().hasGlobalToken()) {
            throw new IllegalArgumentException("REG's teacher must be a SiT without a global token (the warmup model); this one has one");
        }
        this.teacher = teacher;
        this.block = block;
        this.engine = new SiTEngine(teacher);
    }

    /** g [N, D] for clean latents x0 [N, C, H, W] (scaled as the network sees them) and their labels. */
    public INDArray features(INDArray x0, long[] labels) {
        INDArray x = x0.castTo(teacher.dataType());
        INDArray t = Nd4j.zeros(teacher.dataType(), labels.length);
        return engine.forward(x, t, teacher.oneHot(labels), block, false, false).block(block).mean(1);
    }

    public int width() {
        return teacher.config().hidden();
    }
}
