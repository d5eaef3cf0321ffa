package org.transcend.pipelines.steps;

import org.apache.beam.sdk.Pipeline;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.LatentStats;
import org.transcend.schemas.SampleRecord;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Npz;
import org.transcend.stages.io.Tensors;
import org.transcend.stages.latents.Latents;
import org.transcend.stages.sampling.Images;
import org.transcend.stages.sampling.Sample;
import org.transcend.stages.sampling.SampleSpec;
import org.transcend.stages.training.Checkpoints;
import org.transcend.stages.training.TrainSiT;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * Samples a trained model (its EMA weights) and decodes with the VAE: SampleRecords, a class-by-row grid PNG.
 * Which model is fixed by the pipeline: the student, the baseline or the warmup model.
 */
public final class SampleStep implements PipelineStage {

    public static final String NAME = "sample";
    public static final String GRID = "grid.png";
    public static final String NPZ = "samples.npz";

    private final String modelStage;
    private final List<String> vaeUpstream;

    public SampleStep(String modelStage, Settings settings) {
        this.modelStage = modelStage;
        this.vaeUpstream = VaeChoice.upstream(settings);
    }

    @Override
    public StageIdentity identity() {
        return new StageIdentity(NAME, 2, SampleRecord.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        List<String> keys = new ArrayList<>(List.of(SAMPLE_METHOD.key(), SAMPLE_STEPS.key(), SAMPLE_COUNT.key(),
                SAMPLE_CFG_SCALE.key(), SAMPLE_CFG_LOW.key(), SAMPLE_CFG_HIGH.key(), RUN_SEED.key()));
        keys.addAll(VaeChoice.settingKeys(s));
        keys.addAll(SiTRuns.timeShiftKeys(s));
        keys.addAll(s.changedFromDefault(List.of(SAMPLE_CHECKPOINT_STEP.key())));
        return keys;
    }

    @Override
    public List<String> upstream() {
        List<String> up = new ArrayList<>(List.of(modelStage, SiTRuns.ENCODE));
        up.addAll(vaeUpstream);
        return up;
    }

    @Override
    public StageOutcome build(StageContext ctx) throws Exception {
        SampleSpec spec = spec(ctx, checkpoint(ctx.upstreamDir(modelStage), ctx.settings().getLong(SAMPLE_CHECKPOINT_STEP.key())));
        Pipeline p = Pipeline.create(ctx.options());
        Handoffs.write(p.apply(new Sample(spec).setResourceHints(ctx.networkHints())), SampleRecord.class, ctx.outputDir(), "samples",
                Math.min(spec.shards(), 16));
        Map<String, Long> counts = BeamRuns.runAndCount(p, Sample.NAMESPACE);
        List<SampleRecord> samples = Handoffs.readAll(ctx.outputDir(), "samples", SampleRecord.class);
        samples.sort(Comparator.comparingLong(SampleRecord::getIndex));
        writeGrid(ctx.outputDir(), samples, spec.numClasses());
        writeNpz(ctx.outputDir(), samples);
        return new StageOutcome(counts, Map.of());
    }

    /**
     * The sampling settings applied to a checkpoint of any recipe, with this pipeline's VAE and latent statistics;
     * the context needs the encode stage and the VAE choice upstream.
     */
    static SampleSpec spec(StageContext ctx, String checkpoint) throws Exception {
        Settings s = ctx.settings();
        Latents.Shape shape = LatentFacts.shape(ctx);
        LatentStats stats = LatentFacts.stats(ctx);
        return new SampleSpec(checkpoint, s.getInt(SIT_HEADS.key()), s.getInt(SIT_HEAD_HEADS.key()), s.getBoolean(SIT_QK_NORM.key()), s.get(SIT_PREDICTION.key()),
                VaeChoice.weights(ctx), shape.size() * 8, stats.getScale(), stats.getShift(),
                s.get(SAMPLE_METHOD.key()), s.getInt(SAMPLE_STEPS.key()), s.getDouble(SAMPLE_CFG_SCALE.key()),
                s.getDouble(SAMPLE_CFG_LOW.key()), s.getDouble(SAMPLE_CFG_HIGH.key()), s.getLong(SAMPLE_COUNT.key()),
                s.getInt(SAMPLE_SHARDS.key()), s.getLong(RUN_SEED.key()), shape.numClasses(), VaeChoice.cropTo(ctx),
                SiTRuns.timeShift(s, shape));
    }

    /** The final model, or the checkpoint of {@code step} when it is not 0; a missing checkpoint is named with the ones there are. */
    private String checkpoint(String trainingDir, long step) throws Exception {
        if (step == 0) return trainingDir + TrainSiT.MODEL_FILE;
        String path = Checkpoints.path(trainingDir, step);
        if (LocalCopies.list(path).isEmpty()) {
            List<String> kept = Checkpoints.all(trainingDir);
            throw new IllegalArgumentException("sample.checkpoint-step is " + step + " but " + modelStage + " kept no checkpoint of that step in "
                    + trainingDir + "; it kept " + kept.stream().map(f -> f.substring(f.lastIndexOf('/') + 1)).toList()
                    + " (every train.checkpoint-every steps when it was built, and at its end)");
        }
        return path;
    }

    /**
     * The ADM evaluator's sample batch: {@code arr_0} uint8 [N, H, W, C] and {@code arr_1} int64 labels, in index order.
     * Built on the driver, so it suits evaluation-sized sets (one array holds at most 2 GiB).
     */
    static void writeNpz(String dir, List<SampleRecord> samples) throws Exception {
        if (samples.isEmpty()) return;
        long[] chw = Tensors.shape(samples.get(0).getPixels());
        int c = (int) chw[0], h = (int) chw[1], w = (int) chw[2];
        byte[] nhwc = new byte[Math.multiplyExact(samples.size(), c * h * w)];
        long[] labels = new long[samples.size()];
        for (int i = 0; i < samples.size(); i++) {
            byte[] p = Tensors.bytes(samples.get(i).getPixels());
            for (int ch = 0; ch < c; ch++) {
                for (int k = 0; k < h * w; k++) nhwc[(i * h * w + k) * c + ch] = p[ch * h * w + k];
            }
            labels[i] = samples.get(i).getLabel();
        }
        Npz.write(dir + NPZ, Map.of("arr_0", Npz.Array.uint8(nhwc, samples.size(), h, w, c), "arr_1", Npz.Array.int64(labels)));
    }

    /** The first ten samples of each class, one class per row. */
    static void writeGrid(String dir, List<SampleRecord> samples, int classes) throws Exception {
        Optional<byte[]> png = Images.classGrid(samples, classes, 10);
        if (png.isEmpty()) return;
        Path local = LocalCopies.staging(dir + GRID);
        Files.write(local, png.get());
        LocalCopies.publish(local, dir + GRID);
    }

}
