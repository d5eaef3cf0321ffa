package org.transcend.pipelines.steps;

import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.DeadLetter;
import org.transcend.schemas.SampleRecord;
import org.transcend.stages.evaluation.AsSamples;
import org.transcend.stages.evaluation.Degradation;
import org.transcend.stages.importing.ImportImages;
import org.transcend.stages.importing.ImportSpec;
import org.transcend.stages.io.Handoffs;

import java.util.List;
import java.util.Map;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * The dataset's test split, as it is or degraded, written as SampleRecords in the place of generated samples: the
 * check that the distance is near zero for real held-out images and grows with visible damage.
 */
public final class TestSetStep implements PipelineStage {

    public static final String NAME = "test-set";

    @Override
    public StageIdentity identity() {
        return new StageIdentity(NAME, 1, SampleRecord.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        return List.of(DATA_SOURCE.key(), DATA_PATH.key(), DATA_RESOLUTION.key(), DATA_CHANNELS.key(),
                EVAL_TEST_SET_DEGRADATION.key(), RUN_SEED.key());
    }

    @Override
    public List<String> upstream() {
        return List.of();
    }

    @Override
    public StageOutcome build(StageContext ctx) {
        Settings s = ctx.settings();
        ImportSpec train = ImportStep.spec(s);
        ImportSpec test = new ImportSpec(train.source(), train.path(), "test", 0, train.shards(), train.resolution(), train.channels());
        Pipeline p = Pipeline.create(ctx.options());
        PCollectionTuple imported = p.apply(new ImportImages(test));
        Degradation degradation = Degradation.named(s.get(EVAL_TEST_SET_DEGRADATION.key()));
        Handoffs.write(imported.get(ImportImages.IMAGES).apply(new AsSamples(degradation, s.getLong(RUN_SEED.key()))),
                SampleRecord.class, ctx.outputDir(), EvaluateStep.SAMPLES, test.shards());
        Handoffs.write(imported.get(ImportImages.DEAD_LETTERS), DeadLetter.class, ctx.outputDir(), ImportStep.DEAD_LETTERS, 1);
        Map<String, Long> counts = BeamRuns.runAndCount(p, ImportImages.STAGE);
        counts.putIfAbsent("dead_letters", 0L);
        return new StageOutcome(counts, Map.of());
    }
}
