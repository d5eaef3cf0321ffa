package org.transcend.pipelines.steps;

import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.transforms.Reshuffle;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.TeacherTarget;
import org.transcend.stages.teacher.CacheTeacherTargets;
import org.transcend.stages.teacher.ExtractGuidedFeatures;
import org.transcend.stages.training.SiTRun;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * ExtractGuidedFeatures then CacheTeacherTargets, committed as one artifact whose key holds only what the targets
 * depend on: the teacher's key, k_t, w, the mask, the plan and the latents. Student settings (k_s, λ_b, its
 * projector) are not in it, so every experiment that shares the teacher and the plan reuses the cache.
 */
public final class TeacherTargetsStep implements PipelineStage {

    public static final String NAME = "teacher-targets";

    @Override
    public StageIdentity identity() {
        return new StageIdentity(NAME, 1, TeacherTarget.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        List<String> keys = new ArrayList<>(List.of(TEACHER_BLOCK.key(), TEACHER_GUIDANCE.key(), TEACHER_SHARD_STEPS.key(),
                MASK_LOW.key(), MASK_HIGH.key(), TRAIN_BATCH.key(), TRAIN_TIME.key(), TRAIN_LABEL_DROP.key(), RUN_SEED.key()));
        // The plan steps covered: min(student.steps, student.stop-step), both enter through their values.
        keys.add(STUDENT_STEPS.key());
        keys.add(STUDENT_STOP_STEP.key());
        keys.addAll(SiTRuns.timeShiftKeys(s));
        return keys;
    }

    @Override
    public List<String> upstream() {
        return List.of(SiTRuns.ENCODE, TrainSiTStep.WARMUP);
    }

    @Override
    public StageOutcome build(StageContext ctx) throws Exception {
        Settings s = ctx.settings();
        String latents = ctx.upstreamDir(SiTRuns.ENCODE);
        SiTRun student = SiTRuns.student(s, LatentFacts.shape(ctx));
        long steps = SiTRuns.guidedSteps(s);
        long perShard = s.getLong(TEACHER_SHARD_STEPS.key());
        List<Long> shards = LongStream.range(0, (steps + perShard - 1) / perShard).boxed().toList();
        Pipeline p = Pipeline.create(ctx.options());
        p.apply("Plan shards", Create.of(shards.isEmpty() ? List.of() : shards).withCoder(org.apache.beam.sdk.coders.VarLongCoder.of()))
                .apply("Spread shards", Reshuffle.viaRandomKey())
                .apply("ExtractGuidedFeatures", new ExtractGuidedFeatures(student, TrainSiTStep.teacher(s, ctx.upstreamDir(TrainSiTStep.WARMUP)),
                        latents, perShard, steps).setResourceHints(ctx.networkHints()))
                .apply("CacheTeacherTargets", new CacheTeacherTargets(ctx.outputDir(), perShard));
        Map<String, Long> counts = BeamRuns.runAndCount(p, ExtractGuidedFeatures.NAMESPACE);
        counts.put("steps", steps);
        return new StageOutcome(counts, Map.of());
    }
}
