package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Where the student's guided-feature targets come from: the teacher run in the loop, or targets computed
 * ahead and cached. For one plan both must give identical arrays, so the student trains identically.
 */
public interface TargetSource {

    /** f_g [N, tokens, D] for the batch; rows outside the objective's t-window may be zero. */
    INDArray targets(TrainingBatch batch);

    /**
     * Targets that depend on the clean image alone (REPA's external features): row i of {@code features}
     * [examples, tokens, dim] belongs to example i of the training data.
     */
    static TargetSource perImage(INDArray features) {
        long perExample = features.length() / features.size(0);
        INDArray rows = features.reshape(features.size(0), perExample);
        return batch -> {
            int[] index = batch.slots().stream().mapToInt(s -> Math.toIntExact(s.exampleIndex())).toArray();
            return org.nd4j.linalg.factory.Nd4j.pullRows(rows, 1, index).reshape(index.length, features.size(1), features.size(2));
        };
    }

    /** The teacher in the loop: f_g for every row of the batch. */
    static TargetSource online(GuidedTeacher teacher) {
        return teacher::features;
    }
}
