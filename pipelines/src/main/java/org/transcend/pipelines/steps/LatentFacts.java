package org.transcend.pipelines.steps;

import org.transcend.model.vae.VaeConfig;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.LatentStats;
import org.transcend.stages.importing.ImageFolder;
import org.transcend.stages.latents.Latents;

import java.io.IOException;
import java.util.List;
import java.util.Locale;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * The facts of the encoded latents that a SiT stage's graph is built from (shape, class count, scale): read from the
 * encode-latents artifact, or, in a dry run, where nothing upstream is built, expected from the settings.
 */
final class LatentFacts {
    private LatentFacts() {}

    /** Fashion-MNIST and CIFAR-10 both label ten classes. */
    private static final int BUILT_IN_DATASET_CLASSES = 10;

    static Latents.Shape shape(StageContext ctx) throws IOException {
        if (!ctx.dryRun()) return Latents.shape(ctx.upstreamDir(SiTRuns.ENCODE));
        Settings s = ctx.settings();
        VaeConfig vae = VaeChoice.userWeights(s) ? VaeConfig.sdVae() : TrainVaeStep.spec(s, "", "").config();
        Latents.Shape shape = new Latents.Shape(vae.latentChannels(), s.getInt(VAE_RESOLUTION.key()) / vae.downsamplingFactor(), classes(s));
        System.out.printf(Locale.ROOT, "[dry run] latents assumed from the settings: %d channels, %d x %d, %d classes (%s)%n",
                shape.channels(), shape.size(), shape.size(), shape.numClasses(),
                VaeChoice.userWeights(s) ? "an SD-VAE in vae.weights" : "the VAE train-vae would train");
        return shape;
    }

    static LatentStats stats(StageContext ctx) throws IOException {
        if (!ctx.dryRun()) return Latents.stats(ctx.upstreamDir(SiTRuns.ENCODE));
        double scale = VaeChoice.userWeights(ctx.settings()) ? EncodeLatentsStep.SD_VAE_SCALE : 1.0;
        System.out.printf(Locale.ROOT, "[dry run] latent scale assumed: %s%n", scale);
        return new LatentStats(0L, List.of(), List.of(), scale, 0.0);
    }

    private static int classes(Settings s) {
        return s.get(DATA_SOURCE.key()).equals("image-folder") ? ImageFolder.classes(s.get(DATA_PATH.key())).size() : BUILT_IN_DATASET_CLASSES;
    }
}
