package org.transcend.model.flow;

import org.nd4j.linalg.api.ndarray.INDArray;

/** What a sampler needs from a network: the velocity {@code v̂(x_t, t, y)}, batched, rows independent. */
@FunctionalInterface
public interface VelocityModel {

    /**
     * @param x      FLOAT {@code [N, ...]} states
     * @param t      FLOAT {@code [N]} times
     * @param labels LONG {@code [N]} class ids, the null class being {@code numClasses}
     * @return {@code [N, ...]} velocities, any floating type
     */
    INDArray velocity(INDArray x, INDArray t, INDArray labels);
}
