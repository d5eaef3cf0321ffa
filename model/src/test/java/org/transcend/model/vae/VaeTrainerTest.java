package org.transcend.model.vae;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.train.AdamW;
import org.transcend.model.train.Checkpoint;
import org.transcend.model.train.LearningRateSchedule;
import org.transcend.model.train.StepReport;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VaeTrainerTest {

    @TempDir
    Path dir;

    private static final VaeConfig NARROW = new VaeConfig(1, 1, 16, 8, List.of(1, 2), 1, List.of(), 4, true, 4).validate();

    /** Four 16×16 grey images in [−1, 1]: a horizontal ramp, a vertical ramp, a centred square and a 4×4 checkerboard. */
    static INDArray shapes() {
        INDArray ramp = Nd4j.linspace(-1, 1, 16, DataType.FLOAT).reshape(1, 16);
        INDArray ones = Nd4j.ones(DataType.FLOAT, 16, 1);
        INDArray horizontal = ones.mmul(ramp), vertical = horizontal.transpose().dup();
        INDArray square = Nd4j.valueArrayOf(new long[]{16, 16}, -1f);
        square.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(4, 12), org.nd4j.linalg.indexing.NDArrayIndex.interval(4, 12)).assign(1);
        INDArray stripes = Nd4j.createFromArray(1f, 1f, 1f, 1f, -1f, -1f, -1f, -1f).reshape(8, 1).repeat(0, 2).reshape(16, 1);
        INDArray checker = stripes.mmul(stripes.transpose());
        return Nd4j.stack(0, horizontal, vertical, square, checker).reshape(4, 1, 16, 16);
    }

    private static VaeTrainer trainer(INDArray images, int batch, double lr) {
        return new VaeTrainer(NARROW, images, batch, 7, new AdamW.Hyper(lr, 0.9, 0.999, 1e-8, 0.0), 1.0, new VaeLoss.Weights(0, 1, 1e-6));
    }

    /** Six steps on the cosine schedule: the rate depends on the completed steps, which a checkpoint carries. */
    private static VaeTrainer cosineTrainer(INDArray images) {
        return new VaeTrainer(NARROW, images, 4, 7, new AdamW.Hyper(1e-3, 0.9, 0.999, 1e-8, 0.0), 1.0, new VaeLoss.Weights(0, 1, 1e-6),
                LearningRateSchedule.COSINE, 6);
    }

    @Test
    void overfitsFourImages() {
        INDArray images = shapes();
        VaeTrainer trainer = trainer(images, 4, 3e-3);
        double first = trainer.step().losses().get("reconstruction");
        for (int i = 0; i < 79; i++) trainer.step();
        AutoencoderKL vae = trainer.autoencoder();
        INDArray error = vae.decode(vae.encode(images).mean()).subi(images);
        double mse = error.norm2Number().doubleValue() * error.norm2Number().doubleValue() / images.length();
        double psnr = 10 * Math.log10(4.0 / mse); // images span [−1, 1]
        assertTrue(psnr > 24, "reconstruction PSNR after 80 steps is " + psnr + " dB (first reconstruction loss " + first + ")");
    }

    @Test
    void resumingFromACheckpointGivesBitIdenticalWeights() throws Exception {
        Nd4j.getRandom().setSeed(1);
        INDArray images = Nd4j.rand(DataType.FLOAT, 12, 1, 16, 16).muli(2).subi(1);
        VaeTrainer straight = cosineTrainer(images);
        StepReport last = null;
        for (int i = 0; i < 6; i++) last = straight.step();

        VaeTrainer first = cosineTrainer(images);
        for (int i = 0; i < 3; i++) first.step();
        Path file = dir.resolve("vae-checkpoint.safetensors");
        first.checkpoint().save(file);

        VaeTrainer resumed = cosineTrainer(images);
        resumed.restore(Checkpoint.load(file));
        assertEquals(3, resumed.completedSteps());
        StepReport resumedLast = null;
        for (int i = 0; i < 3; i++) resumedLast = resumed.step();

        assertEquals(last.losses(), resumedLast.losses());
        Map<String, INDArray> a = straight.stateDict(), b = resumed.stateDict();
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name).reshape(-1).toFloatVector(), b.get(name).reshape(-1).toFloatVector(), name);
        }
        // and the schedule did act: the same six steps at the constant rate end elsewhere
        VaeTrainer constant = trainer(images, 4, 1e-3);
        for (int i = 0; i < 6; i++) constant.step();
        String any = a.keySet().iterator().next();
        assertFalse(java.util.Arrays.equals(a.get(any).reshape(-1).toFloatVector(), constant.stateDict().get(any).reshape(-1).toFloatVector()),
                "cosine and constant rates gave the same " + any);
    }
}
