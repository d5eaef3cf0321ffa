package org.transcend.pipelines.steps;

import org.apache.beam.sdk.Pipeline;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.LatentRecord;
import org.transcend.schemas.LatentStats;
import org.transcend.schemas.PatchFeatures;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.latents.Latents;
import org.transcend.stages.representation.ExtractGlobalFeatures;
import org.transcend.stages.representation.PatchFeatureTargets;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * REG's targets, cached per image: the global feature g of each clean latent, the warmup teacher's block-k tokens
 * mean-pooled, as one-token {@link PatchFeatures} records. They depend on the clean latent alone, so the key holds the
 * teacher's key, the block and the latents' key, not the plan.
 */
public final class RegTargetsStep implements PipelineStage {

    public static final String NAME = "reg-targets";

    @Override
    public StageIdentity identity() {
        return new StageIdentity(NAME, 1, PatchFeatures.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        return List.of(REG_TEACHER_BLOCK.key());
    }

    @Override
    public List<String> upstream() {
        return List.of(SiTRuns.ENCODE, TrainSiTStep.WARMUP);
    }

    @Override
    public StageOutcome build(StageContext ctx) throws Exception {
        Settings s = ctx.settings();
        LatentStats stats = LatentFacts.stats(ctx);
        Pipeline p = Pipeline.create(ctx.options());
        // the warmup's raw weights read to REG's block, their conditional features alone (guidance 1, the true label)
        Handoffs.write(Handoffs.read(p.begin(), LatentRecord.class, ctx.upstreamDir(SiTRuns.ENCODE), Latents.RECORDS)
                        .apply("ExtractGlobalFeatures", new ExtractGlobalFeatures(TrainSiTStep.teacher(s, ctx.upstreamDir(TrainSiTStep.WARMUP),
                                s.getInt(REG_TEACHER_BLOCK.key()), 1.0), stats.getScale(), stats.getShift()).setResourceHints(ctx.networkHints())),
                PatchFeatures.class, ctx.outputDir(), PatchFeatureTargets.RECORDS, 8);
        Map<String, Long> counts = BeamRuns.runAndCount(p, ExtractGlobalFeatures.NAMESPACE);
        return new StageOutcome(counts, Map.of("dim", (double) s.getInt(SIT_HIDDEN.key())));
    }

    /** Dg, the width of the cached g (one token per image); the sit's hidden width in a dry run, where nothing is built. */
    static int globalDim(StageContext ctx, String artifactDir) throws IOException {
        if (ctx.dryRun()) return ctx.settings().getInt(SIT_HIDDEN.key());
        long[] shape = PatchFeatureTargets.shape(artifactDir);
        if (shape[0] != 1) {
            throw new IllegalStateException(artifactDir + " holds " + shape[0] + " tokens per image; REG's global feature is one");
        }
        return Math.toIntExact(shape[1]);
    }
}
