package org.transcend.pipelines.steps;

import org.apache.beam.sdk.Pipeline;
import org.transcend.model.train.LearningRateSchedule;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.CheckpointMeta;
import org.transcend.stages.importing.ImportImages;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.vae.TrainVae;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.transcend.pipelines.config.Catalog.*;

/** Trains the small VAE on the imported images (only when the user gives no vae.weights). */
public final class TrainVaeStep implements PipelineStage {

    @Override
    public StageIdentity identity() {
        return new StageIdentity(SiTRuns.TRAIN_VAE, 2, CheckpointMeta.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        List<String> keys = new ArrayList<>(List.of(VAE_STEPS.key(), VAE_BATCH.key(), VAE_LR.key(), VAE_L1.key(), VAE_L2.key(),
                VAE_KL.key(), VAE_CHANNELS.key(), VAE_MULTIPLIERS.key(), VAE_NORM_GROUPS.key(), VAE_LATENT_CHANNELS.key(),
                VAE_RESOLUTION.key(), VAE_HELD_OUT.key(), RUN_SEED.key()));
        // in the key only when set: a constant rate trains what was trained before the schedule existed
        keys.addAll(s.changedFromDefault(List.of(VAE_LR_SCHEDULE.key())));
        return keys;
    }

    @Override
    public List<String> upstream() {
        return List.of(ImportImages.STAGE);
    }

    /** Whether a pipeline on these settings trains its own VAE (no vae.weights, not in pixel space). */
    public static boolean needed(Settings s) {
        return VaeChoice.trained(s);
    }

    static int channels(Settings s) {
        return s.get(DATA_SOURCE.key()).equals("fashion-mnist") ? 1 : s.get(DATA_SOURCE.key()).equals("cifar10") ? 3 : s.getInt(DATA_CHANNELS.key());
    }

    /** The VAE training these settings ask for, from the imported images in {@code importDir} into {@code outputDir}. */
    static TrainVae.Spec spec(Settings s, String importDir, String outputDir) {
        List<Integer> multipliers = Arrays.stream(s.get(VAE_MULTIPLIERS.key()).split(",")).map(String::trim).map(Integer::parseInt).toList();
        return new TrainVae.Spec(importDir, outputDir, channels(s), s.getInt(VAE_RESOLUTION.key()),
                s.getInt(VAE_CHANNELS.key()), multipliers, s.getInt(VAE_NORM_GROUPS.key()), s.getInt(VAE_LATENT_CHANNELS.key()),
                s.getLong(VAE_STEPS.key()),
                s.getInt(VAE_BATCH.key()), s.getDouble(VAE_LR.key()), LearningRateSchedule.parse(s.get(VAE_LR_SCHEDULE.key())),
                s.getDouble(VAE_L1.key()), s.getDouble(VAE_L2.key()),
                s.getDouble(VAE_KL.key()), s.getLong(VAE_CHECKPOINT_EVERY.key()), s.getLong(TRAIN_LOG_EVERY.key()),
                s.getInt(VAE_HELD_OUT.key()), s.getLong(RUN_SEED.key()));
    }

    @Override
    public StageOutcome build(StageContext ctx) throws Exception {
        TrainVae.Spec spec = spec(ctx.settings(), ctx.upstreamDir(ImportImages.STAGE), ctx.outputDir());
        spec.config();
        Pipeline p = Pipeline.create(ctx.options());
        Handoffs.write(p.apply(new TrainVae(spec).setResourceHints(ctx.networkHints())), CheckpointMeta.class, ctx.outputDir(),
                "checkpoint-meta", 1);
        Map<String, Long> counts = new TreeMap<>(BeamRuns.runAndCount(p, TrainVae.NAMESPACE));
        CheckpointMeta meta = Handoffs.readAll(ctx.outputDir(), "checkpoint-meta", CheckpointMeta.class).get(0);
        return new StageOutcome(counts, Map.of("psnr_db", meta.getMetrics().get("psnr_db")));
    }
}
