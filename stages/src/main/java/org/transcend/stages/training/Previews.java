package org.transcend.stages.training;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.vae.AutoencoderKL;
import org.transcend.model.vae.VaeWeights;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.sampling.Drawing;
import org.transcend.stages.sampling.Images;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/** The preview grids of a training stage: the same seeds at every preview step, so grids compare across steps. */
final class Previews {

    private final TrainSiT.Preview preview;
    private final String dir;
    /** Loaded at the first preview, so a run without previews never reads the VAE. */
    private AutoencoderKL vae;

    Previews(TrainSiT.Preview preview, String dir) {
        this.preview = preview;
        this.dir = dir;
    }

    /** Draws and writes the grid when {@code step} is a preview step; the weights are read only then. */
    void atStep(long step, Supplier<Map<String, INDArray>> emaWeights) {
        if (preview == null || preview.every() <= 0 || step % preview.every() != 0) return;
        try {
            if (vae == null && preview.spec().decodes()) vae = VaeWeights.load(LocalCopies.fetch(preview.spec().vaeWeights()), preview.spec().vaeResolution());
            Drawing drawing = new Drawing(preview.spec(), preview.spec().model(emaWeights.get()), vae);
            int classes = preview.spec().numClasses();
            Optional<byte[]> png = Images.classGrid(drawing.draw(0, preview.spec().count()), classes,
                    (int) Math.ceil(preview.spec().count() / (double) classes));
            if (png.isEmpty()) return;
            String name = String.format("step-%06d.png", step);
            Path local = LocalCopies.staging(dir + name);
            Files.write(local, png.get());
            LocalCopies.publish(local, dir + name);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the preview grid of step " + step + " under " + dir, e);
        }
    }
}
