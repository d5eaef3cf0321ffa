package org.transcend.pipelines.steps;

import org.transcend.model.flow.TimeShift;
import org.transcend.pipelines.config.Settings;
import org.transcend.stages.latents.Latents;
import org.transcend.stages.training.SiTRun;

import java.util.ArrayList;
import java.util.List;

import static org.transcend.pipelines.config.Catalog.*;

/** Turns settings into the {@link SiTRun} of each SiT training stage, and lists the settings each one depends on. */
final class SiTRuns {
    private SiTRuns() {}

    static final String ENCODE = "encode-latents";
    static final String TRAIN_VAE = "train-vae";

    /** The shared part of every SiT stage's key: the network, the optimiser and the plan. */
    static List<String> networkAndPlanKeys(Settings settings) {
        List<String> keys = new ArrayList<>();
        for (var s : List.of(SIT_HIDDEN, SIT_DEPTH, SIT_HEADS, SIT_PATCH, SIT_MLP_RATIO, SIT_QK_NORM, SIT_PREDICTION,
                TRAIN_BATCH, TRAIN_LR, TRAIN_BETA1, TRAIN_BETA2, TRAIN_EPS, TRAIN_WEIGHT_DECAY, TRAIN_GRAD_CLIP, TRAIN_EMA_DECAY,
                TRAIN_TIME, TRAIN_LABEL_DROP, RUN_SEED)) {
            keys.add(s.key());
        }
        keys.addAll(timeShiftKeys(settings));
        keys.addAll(settings.changedFromDefault(List.of(SIT_BOTTLENECK.key(), SIT_HEAD_WIDTH.key(), SIT_HEAD_DEPTH.key(), SIT_HEAD_HEADS.key())));
        return keys;
    }

    /** The time-shift settings, in a key only when set: without them the times are those of the plan before the shift existed. */
    static List<String> timeShiftKeys(Settings s) {
        return s.changedFromDefault(List.of(TIME_SHIFT_ALPHA.key(), TIME_SHIFT_BASE_DIM.key()));
    }

    /** α of the time shift for models on this latent grid: given directly, or √(C·H·W / base-dim). */
    static double timeShift(Settings s, Latents.Shape shape) {
        long base = s.getLong(TIME_SHIFT_BASE_DIM.key());
        if (base == 0) return s.getDouble(TIME_SHIFT_ALPHA.key());
        return TimeShift.forDimensions((long) shape.channels() * shape.size() * shape.size(), base).alpha();
    }

    static SiTRun of(Settings s, Latents.Shape shape, String objective, long steps, int auxBlock, int auxHidden, int auxDim,
                     double auxWeight, long stopStep) {
        return of(s, shape, objective, steps, auxBlock, auxHidden, auxDim, auxWeight, stopStep, 0, 0);
    }

    private static SiTRun of(Settings s, Latents.Shape shape, String objective, long steps, int auxBlock, int auxHidden, int auxDim,
                             double auxWeight, long stopStep, int teacherBlock, double teacherGap) {
        return new SiTRun(shape.size(), s.getInt(SIT_PATCH.key()), shape.channels(), s.getInt(SIT_HIDDEN.key()),
                s.getInt(SIT_DEPTH.key()), s.getInt(SIT_HEADS.key()), s.getDouble(SIT_MLP_RATIO.key()), shape.numClasses(),
                s.getBoolean(SIT_QK_NORM.key()), s.get(SIT_PREDICTION.key()),
                objective, auxBlock, auxHidden, auxDim, auxWeight, s.getDouble(MASK_LOW.key()), s.getDouble(MASK_HIGH.key()), stopStep,
                s.getDouble(TRAIN_LR.key()), s.getDouble(TRAIN_BETA1.key()), s.getDouble(TRAIN_BETA2.key()), s.getDouble(TRAIN_EPS.key()),
                s.getDouble(TRAIN_WEIGHT_DECAY.key()), s.getDouble(TRAIN_GRAD_CLIP.key()), s.getDouble(TRAIN_EMA_DECAY.key()),
                steps, s.getInt(TRAIN_BATCH.key()), s.getLong(TRAIN_CHECKPOINT_EVERY.key()), s.getLong(TRAIN_LOG_EVERY.key()),
                s.getLong(RUN_SEED.key()), s.get(TRAIN_TIME.key()), s.getDouble(TRAIN_LABEL_DROP.key()), timeShift(s, shape),
                teacherBlock, teacherGap, s.getInt(SIT_BOTTLENECK.key()), s.getInt(SIT_HEAD_WIDTH.key()), s.getInt(SIT_HEAD_DEPTH.key()),
                s.getInt(SIT_HEAD_HEADS.key()));
    }

    /** Stage (a): SiT + VAE-align head on k_a. */
    static SiTRun warmup(Settings s, Latents.Shape shape) {
        return of(s, shape, "vae-align", s.getLong(WARMUP_STEPS.key()), s.getInt(WARMUP_BLOCK.key()), s.getInt(WARMUP_HEAD_HIDDEN.key()),
                0, s.getDouble(WARMUP_WEIGHT.key()), Long.MAX_VALUE);
    }

    /** Stage (b): a new SiT, projector on k_s regressing the teacher's hidden-width features. */
    static SiTRun student(Settings s, Latents.Shape shape) {
        return of(s, shape, "guided", s.getLong(STUDENT_STEPS.key()), s.getInt(STUDENT_BLOCK.key()),
                s.getInt(STUDENT_PROJECTOR_HIDDEN.key()), s.getInt(SIT_HIDDEN.key()), s.getDouble(STUDENT_WEIGHT.key()),
                s.getLong(STUDENT_STOP_STEP.key()));
    }

    /** REPA on the student's plan and budget: a projector on repa.block regressing Dz-wide external features. */
    static SiTRun repa(Settings s, Latents.Shape shape, int featureDim) {
        return of(s, shape, "repa", s.getLong(STUDENT_STEPS.key()), s.getInt(REPA_BLOCK.key()), s.getInt(REPA_PROJECTOR_HIDDEN.key()),
                featureDim, s.getDouble(REPA_WEIGHT.key()), Long.MAX_VALUE);
    }

    /** SRA on the student's plan and budget: a head on the student block regressing its own EMA's features at less noise. */
    static SiTRun sra(Settings s, Latents.Shape shape) {
        int hidden = s.getInt(SRA_HEAD_HIDDEN.key());
        return of(s, shape, "sra", s.getLong(STUDENT_STEPS.key()), s.getInt(SRA_STUDENT_BLOCK.key()),
                hidden == 0 ? 2 * s.getInt(SIT_HIDDEN.key()) : hidden, 0, s.getDouble(SRA_WEIGHT.key()), Long.MAX_VALUE,
                s.getInt(SRA_TEACHER_BLOCK.key()), s.getDouble(SRA_MAX_GAP.key()));
    }

    /** REG on the student's plan and budget: the global token carries the Dg-wide feature g of reg-targets, weight β. */
    static SiTRun reg(Settings s, Latents.Shape shape, int globalDim) {
        return of(s, shape, "reg", s.getLong(STUDENT_STEPS.key()), 0, 0, globalDim, s.getDouble(REG_WEIGHT.key()), Long.MAX_VALUE);
    }

    /** The vanilla baseline on the student's plan and budget. */
    static SiTRun baseline(Settings s, Latents.Shape shape) {
        return of(s, shape, "vanilla", s.getLong(STUDENT_STEPS.key()), 0, 0, 0, 0, Long.MAX_VALUE);
    }

    /** Steps whose guided targets are needed: the guided term is off after the stop step. */
    static long guidedSteps(Settings s) {
        return Math.min(s.getLong(STUDENT_STEPS.key()), s.getLong(STUDENT_STOP_STEP.key()));
    }
}
