package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Where the student's guided-feature targets come from: the teacher run in the loop, or targets computed
 * ahead and cached. For one plan both must give identical arrays, so the student trains identically.
 */
public interface TargetSource {

    /** f_g [N, tokens, D] for the batch; rows outside the objective's t-window may be zero. */
    INDArray targets(TrainingBatch batch);

    /** The teacher in the loop: f_g for every row of the batch. */
    static TargetSource online(GuidedTeacher teacher) {
        return teacher::features;
    }
}
