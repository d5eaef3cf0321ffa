package org.transcend.pipelines.steps;

import org.apache.avro.Schema;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.beam.sdk.Pipeline;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.LatentStats;
import org.transcend.schemas.SampleRecord;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Tensors;
import org.transcend.stages.latents.Latents;
import org.transcend.stages.sampling.Images;
import org.transcend.stages.sampling.Sample;
import org.transcend.stages.sampling.SampleSpec;
import org.transcend.stages.training.TrainSiT;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * Samples a trained model (its EMA weights) and decodes with the VAE: SampleRecords, a class-by-row grid PNG.
 * Which model is fixed by the pipeline: the student, the baseline or the warmup model.
 */
public final class SampleStep implements PipelineStage {

    public static final String NAME = "sample";
    public static final String GRID = "grid.png";

    private final String modelStage;
    private final List<String> vaeUpstream;

    public SampleStep(String modelStage, Settings settings) {
        this.modelStage = modelStage;
        this.vaeUpstream = VaeChoice.upstream(settings);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int version() {
        return 1;
    }

    @Override
    public Schema outputSchema() {
        return SampleRecord.getClassSchema();
    }

    @Override
    public List<String> settingKeys(Settings s) {
        List<String> keys = new ArrayList<>(List.of(SAMPLE_METHOD.key(), SAMPLE_STEPS.key(), SAMPLE_COUNT.key(),
                SAMPLE_CFG_SCALE.key(), SAMPLE_CFG_LOW.key(), SAMPLE_CFG_HIGH.key(), RUN_SEED.key()));
        keys.addAll(VaeChoice.settingKeys(s));
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
        Settings s = ctx.settings();
        String latents = ctx.upstreamDir(SiTRuns.ENCODE);
        SiTRuns.LatentShape shape = SiTRuns.LatentShape.of(latents);
        LatentStats stats = Latents.stats(latents);
        int projectorBlock = modelStage.equals(TrainSiTStep.STUDENT) ? s.getInt(STUDENT_BLOCK.key()) : 0;
        int alignBlock = modelStage.equals(TrainSiTStep.WARMUP) ? s.getInt(WARMUP_BLOCK.key()) : 0;
        SampleSpec spec = new SampleSpec(ctx.upstreamDir(modelStage) + TrainSiT.MODEL_FILE, s.getInt(SIT_HEADS.key()),
                s.getBoolean(SIT_QK_NORM.key()), projectorBlock, alignBlock, s.get(SIT_PREDICTION.key()),
                VaeChoice.weights(ctx), shape.size() * 8, stats.getScale(), stats.getShift(),
                s.get(SAMPLE_METHOD.key()), s.getInt(SAMPLE_STEPS.key()), s.getDouble(SAMPLE_CFG_SCALE.key()),
                s.getDouble(SAMPLE_CFG_LOW.key()), s.getDouble(SAMPLE_CFG_HIGH.key()), s.getLong(SAMPLE_COUNT.key()),
                s.getInt(SAMPLE_SHARDS.key()), s.getLong(RUN_SEED.key()), shape.numClasses(), VaeChoice.cropTo(ctx));
        Pipeline p = Pipeline.create(ctx.options());
        Handoffs.write(p.apply(new Sample(spec)), SampleRecord.class, ctx.outputDir(), "samples", Math.min(spec.shards(), 16));
        Map<String, Long> counts = BeamRuns.runAndCount(p, Sample.NAMESPACE);
        writeGrid(ctx.outputDir(), shape.numClasses());
        return new StageOutcome(counts, Map.of());
    }

    /** The first samples of each class, one class per row. */
    static void writeGrid(String dir, int classes) throws Exception {
        List<SampleRecord> first = new ArrayList<>();
        for (String f : LocalCopies.list(Handoffs.pattern(dir, "samples"))) {
            try (DataFileReader<SampleRecord> r = new DataFileReader<>(LocalCopies.fetch(f).toFile(), new SpecificDatumReader<>(SampleRecord.class))) {
                for (SampleRecord rec : r) if (rec.getIndex() < classes * 10L) first.add(rec);
            }
        }
        if (first.isEmpty()) return;
        first.sort(Comparator.comparingLong(SampleRecord::getIndex));
        int cols = (first.size() + classes - 1) / classes;
        long[] shape = Tensors.shape(first.get(0).getPixels());
        List<byte[]> cells = new ArrayList<>();
        // Index i has class i mod classes: cell (class, j) is index j*classes + class.
        for (int cls = 0; cls < classes; cls++) {
            for (int j = 0; j < cols; j++) {
                int i = j * classes + cls;
                cells.add(i < first.size() ? Tensors.bytes(first.get(i).getPixels()) : new byte[(int) (shape[0] * shape[1] * shape[2])]);
            }
        }
        Path local = LocalCopies.staging(dir + GRID);
        Files.write(local, Images.grid(cells, classes, cols, (int) shape[0], (int) shape[1], (int) shape[2]));
        LocalCopies.publish(local, dir + GRID);
    }

}
