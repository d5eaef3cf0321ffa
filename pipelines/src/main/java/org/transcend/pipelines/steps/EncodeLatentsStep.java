package org.transcend.pipelines.steps;

import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.train.LatentData;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.DeadLetter;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.LatentRecord;
import org.transcend.schemas.LatentStats;
import org.transcend.stages.importing.ImportImages;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.latents.EncodeLatents;
import org.transcend.stages.latents.Latents;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * Encodes the imported images with the VAE into LatentRecords, then writes LatentStats: per-channel statistics of
 * the posterior means and the latent scale (0.18215 for SD-VAE weights, 1/std of the posterior means for a VAE
 * trained here, 1 in pixel space).
 */
public final class EncodeLatentsStep implements PipelineStage {

    /** The scale SD-VAE latents are multiplied by (LDM's scale_factor). */
    public static final double SD_VAE_SCALE = 0.18215;

    private final List<String> vaeUpstream;

    public EncodeLatentsStep(Settings settings) {
        this.vaeUpstream = VaeChoice.upstream(settings);
    }

    @Override
    public StageIdentity identity() {
        return new StageIdentity(SiTRuns.ENCODE, 2, LatentRecord.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        List<String> keys = new ArrayList<>(VaeChoice.settingKeys(s));
        keys.add(VAE_RESOLUTION.key());
        return keys;
    }

    @Override
    public List<String> upstream() {
        List<String> up = new ArrayList<>(List.of(ImportImages.STAGE));
        up.addAll(vaeUpstream);
        return up;
    }

    @Override
    public StageOutcome build(StageContext ctx) throws Exception {
        Settings s = ctx.settings();
        EncodeLatents.Spec spec = new EncodeLatents.Spec(VaeChoice.weights(ctx), TrainVaeStep.channels(s), s.getInt(VAE_RESOLUTION.key()),
                s.getInt(ENCODE_GROUPS.key()));
        Pipeline p = Pipeline.create(ctx.options());
        PCollectionTuple encoded = Handoffs.read(p.begin(), ImageRecord.class, ctx.upstreamDir(ImportImages.STAGE), ImportStep.IMAGES)
                .apply("EncodeLatents", new EncodeLatents(spec));
        Handoffs.write(encoded.get(EncodeLatents.LATENTS), LatentRecord.class, ctx.outputDir(), Latents.RECORDS, 8);
        Handoffs.write(encoded.get(EncodeLatents.DEAD_LETTERS), DeadLetter.class, ctx.outputDir(), "dead-letters", 1);
        Map<String, Long> counts = BeamRuns.runAndCount(p, EncodeLatents.NAMESPACE);
        counts.putIfAbsent("dead_letters", 0L);
        LatentStats stats = stats(ctx, VaeChoice.userWeights(s) ? SD_VAE_SCALE : VaeChoice.pixelSpace(s) ? 1.0 : 0);
        writeJson(ctx.outputDir() + Latents.STATS, ArtifactStore.toJson(stats));
        return new StageOutcome(counts, Map.of("latent_scale", stats.getScale()));
    }

    /** The statistics of the posterior means, with {@code scale}, or 1/std of the means when it is 0. */
    private static LatentStats stats(StageContext ctx, double scale) throws Exception {
        LatentData d = Latents.posteriors(ctx.outputDir());
        long c = d.mean().size(1);
        List<Double> mean = new ArrayList<>(), std = new ArrayList<>();
        for (long ch = 0; ch < c; ch++) {
            INDArray x = d.mean().get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(ch));
            mean.add(x.meanNumber().doubleValue());
            std.add(x.stdNumber().doubleValue());
        }
        double globalStd = d.mean().stdNumber().doubleValue();
        return new LatentStats(d.size(), mean, std, scale != 0 ? scale : 1.0 / globalStd, 0.0);
    }

    private static void writeJson(String path, byte[] json) throws Exception {
        java.nio.file.Path local = org.transcend.stages.io.LocalCopies.staging(path);
        java.nio.file.Files.write(local, json);
        org.transcend.stages.io.LocalCopies.publish(local, path);
    }
}
