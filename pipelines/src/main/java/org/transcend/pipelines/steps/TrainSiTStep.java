package org.transcend.pipelines.steps;

import org.apache.beam.sdk.Pipeline;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.CheckpointMeta;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.latents.Latents;
import org.transcend.stages.representation.PatchFeatureTargets;
import org.transcend.stages.teacher.TeacherSpec;
import org.transcend.stages.training.SiTRun;
import org.transcend.stages.training.TrainSiT;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * The SiT training stages: {@code warmup-align} (stage (a), the teacher), {@code train-student} (stage (b), guided by
 * the teacher's cached or online features), {@code train-baseline} (vanilla SiT on the same plan) and the other
 * recipes on the student's plan and budget: {@code train-repa}, {@code train-sra} and {@code train-reg}. One stage, {@link TrainSiT}; the kind picks its
 * objective and targets.
 */
public final class TrainSiTStep implements PipelineStage {

    public enum Kind { WARMUP, STUDENT, BASELINE, REPA, SRA, REG }

    public static final String WARMUP = "warmup-align";
    public static final String STUDENT = "train-student";
    public static final String BASELINE = "train-baseline";
    public static final String REPA = "train-repa";
    public static final String SRA = "train-sra";
    public static final String REG = "train-reg";

    /** Samples of each class in a preview grid. */
    static final int PREVIEW_PER_CLASS = 4;

    private final Kind kind;
    private final boolean cachedTargets;

    private final List<String> vaeUpstream;

    public TrainSiTStep(Kind kind, boolean cachedTargets, Settings settings) {
        this.kind = kind;
        this.cachedTargets = cachedTargets;
        this.vaeUpstream = VaeChoice.upstream(settings);
    }

    public static TrainSiTStep warmup(Settings s) {
        return new TrainSiTStep(Kind.WARMUP, false, s);
    }

    public static TrainSiTStep baseline(Settings s) {
        return new TrainSiTStep(Kind.BASELINE, false, s);
    }

    public static TrainSiTStep repa(Settings s) {
        return new TrainSiTStep(Kind.REPA, false, s);
    }

    public static TrainSiTStep sra(Settings s) {
        return new TrainSiTStep(Kind.SRA, false, s);
    }

    public static TrainSiTStep reg(Settings s) {
        return new TrainSiTStep(Kind.REG, false, s);
    }

    public static TrainSiTStep student(Settings s) {
        return new TrainSiTStep(Kind.STUDENT, s.get(TEACHER_MODE.key()).equals("cached"), s);
    }

    @Override
    public StageIdentity identity() {
        String name = switch (kind) {
            case WARMUP -> WARMUP;
            case STUDENT -> STUDENT;
            case BASELINE -> BASELINE;
            case REPA -> REPA;
            case SRA -> SRA;
            case REG -> REG;
        };
        return new StageIdentity(name, 2, CheckpointMeta.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        List<String> keys = new ArrayList<>(SiTRuns.networkAndPlanKeys(s));
        switch (kind) {
            case WARMUP -> keys.addAll(List.of(WARMUP_STEPS.key(), WARMUP_BLOCK.key(), WARMUP_WEIGHT.key(), WARMUP_HEAD_HIDDEN.key(),
                    MASK_LOW.key(), MASK_HIGH.key()));
            case STUDENT -> keys.addAll(List.of(STUDENT_STEPS.key(), STUDENT_BLOCK.key(), STUDENT_WEIGHT.key(),
                    STUDENT_PROJECTOR_HIDDEN.key(), STUDENT_STOP_STEP.key(), MASK_LOW.key(), MASK_HIGH.key(),
                    TEACHER_BLOCK.key(), TEACHER_GUIDANCE.key(), TEACHER_MODE.key()));
            case BASELINE -> keys.add(STUDENT_STEPS.key());
            case REPA -> keys.addAll(List.of(STUDENT_STEPS.key(), REPA_BLOCK.key(), REPA_WEIGHT.key(), REPA_PROJECTOR_HIDDEN.key()));
            case SRA -> keys.addAll(List.of(STUDENT_STEPS.key(), SRA_STUDENT_BLOCK.key(), SRA_TEACHER_BLOCK.key(), SRA_WEIGHT.key(),
                    SRA_MAX_GAP.key(), SRA_HEAD_HIDDEN.key()));
            case REG -> keys.addAll(List.of(STUDENT_STEPS.key(), REG_WEIGHT.key()));
        }
        return keys;
    }

    /** The latents, the VAE that decodes the preview grids, and for the student its teacher's targets or weights. */
    @Override
    public List<String> upstream() {
        List<String> up = new ArrayList<>(List.of(SiTRuns.ENCODE));
        up.addAll(vaeUpstream);
        switch (kind) {
            case STUDENT -> up.add(cachedTargets ? TeacherTargetsStep.NAME : WARMUP);
            case REPA -> up.add(RepaTargetsStep.NAME);
            case REG -> up.add(RegTargetsStep.NAME);
            default -> { }
        }
        return up;
    }

    @Override
    public StageOutcome build(StageContext ctx) throws Exception {
        Settings s = ctx.settings();
        String latents = ctx.upstreamDir(SiTRuns.ENCODE);
        Latents.Shape shape = LatentFacts.shape(ctx);
        SiTRun run;
        TrainSiT.Targets targets = null;
        switch (kind) {
            case WARMUP -> run = SiTRuns.warmup(s, shape);
            case BASELINE -> run = SiTRuns.baseline(s, shape);
            case SRA -> run = SiTRuns.sra(s, shape);
            case REPA -> {
                String features = ctx.upstreamDir(RepaTargetsStep.NAME);
                run = SiTRuns.repa(s, shape, fittingFeatureDim(PatchFeatureTargets.shape(features), shape, s));
                targets = TrainSiT.Targets.perImage(features);
            }
            case REG -> {
                String features = ctx.upstreamDir(RegTargetsStep.NAME);
                run = SiTRuns.reg(s, shape, RegTargetsStep.globalDim(ctx, features));
                targets = TrainSiT.Targets.perImage(features);
            }
            default -> {
                run = SiTRuns.student(s, shape);
                targets = cachedTargets
                        ? new TrainSiT.Targets("cached", null, ctx.upstreamDir(TeacherTargetsStep.NAME), s.getLong(TEACHER_SHARD_STEPS.key()))
                        : new TrainSiT.Targets("online", teacher(s, ctx.upstreamDir(WARMUP)), null, 0);
            }
        }
        Pipeline p = Pipeline.create(ctx.options());
        TrainSiT.Preview preview = new TrainSiT.Preview(SampleStep.spec(ctx, "").preview(PREVIEW_PER_CLASS),
                s.getLong(TRAIN_PREVIEW_EVERY.key()));
        Handoffs.write(p.apply(new TrainSiT(name(), run, latents, ctx.outputDir(), targets, preview).setResourceHints(ctx.networkHints())),
                CheckpointMeta.class, ctx.outputDir(), "checkpoint-meta", 1);
        Map<String, Long> counts = new TreeMap<>(BeamRuns.runAndCount(p, name()));
        return new StageOutcome(counts, Map.of());
    }

    /**
     * REPA's feature width Dz, once the file's tokens per image are known to be the SiT's: T = (latent size / patch)²,
     * in the row-major order of the patch grid.
     */
    static int fittingFeatureDim(long[] tokensByDim, Latents.Shape shape, Settings s) {
        int patch = s.getInt(SIT_PATCH.key());
        long grid = shape.size() / patch;
        if (tokensByDim[0] != grid * grid) {
            throw new IllegalArgumentException("repa.features has " + tokensByDim[0] + " tokens per image, but the SiT sees "
                    + grid * grid + " (latents " + shape.size() + "x" + shape.size() + ", sit.patch " + patch + ": a " + grid + "x" + grid
                    + " grid); accepted: features [N, " + grid * grid + ", Dz], e.g. patch tokens pooled to " + grid + "x" + grid);
        }
        return Math.toIntExact(tokensByDim[1]);
    }

    /** The warmup's raw weights as the frozen teacher, with the extraction settings k_t and w. */
    static TeacherSpec teacher(Settings s, String warmupDir) {
        return teacher(s, warmupDir, s.getInt(TEACHER_BLOCK.key()), s.getDouble(TEACHER_GUIDANCE.key()));
    }

    /** The warmup's raw weights read to {@code block} with guidance {@code guidance}. */
    static TeacherSpec teacher(Settings s, String warmupDir, int block, double guidance) {
        return new TeacherSpec(warmupDir + TrainSiT.MODEL_FILE, s.getInt(SIT_HEADS.key()), s.getInt(SIT_HEAD_HEADS.key()),
                s.getBoolean(SIT_QK_NORM.key()),
                s.getInt(WARMUP_BLOCK.key()), block, guidance);
    }
}
