package org.transcend.model.eval;

import org.nd4j.linalg.api.ndarray.INDArray;

/** A network whose features of real and generated images a Fréchet distance compares. */
public interface FeatureNetwork {

    /** Features [N, featureDimension()] of images [N, C, H, W] with values in [0, 1]. */
    INDArray features(INDArray images01);

    int featureDimension();
}
