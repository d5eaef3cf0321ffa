package org.transcend.model.vae;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PosteriorTest {

    @Test
    void samplesMeanPlusStdTimesNoise() {
        INDArray mean = Nd4j.createFromArray(1f, -2f).reshape(1, 2, 1, 1);
        INDArray std = Nd4j.createFromArray(0.5f, 3f).reshape(1, 2, 1, 1);
        Posterior p = new Posterior(mean, std, Nd4j.zeros(1, 4, 1, 1));
        INDArray z = p.sample(Nd4j.createFromArray(2f, -1f).reshape(1, 2, 1, 1));
        assertArrayEquals(new float[]{2f, -5f}, z.reshape(2).toFloatVector());
    }

    @Test
    void rejectsNoiseOfAnotherShape() {
        Posterior p = new Posterior(Nd4j.zeros(2, 4, 8, 8), Nd4j.ones(2, 4, 8, 8), Nd4j.zeros(2, 8, 8, 8));
        var e = assertThrows(IllegalArgumentException.class, () -> p.sample(Nd4j.zeros(2, 4, 4, 4)));
        assertEquals("noise has shape [2, 4, 4, 4]; expected the posterior's [2, 4, 8, 8]", e.getMessage());
    }
}
