package org.transcend.pipelines;

import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.config.Catalog;
import org.transcend.pipelines.steps.EvaluateStep;
import org.transcend.pipelines.steps.ReferenceStatsStep;
import org.transcend.pipelines.steps.EncodeLatentsStep;
import org.transcend.pipelines.steps.ImportStep;
import org.transcend.pipelines.steps.RegTargetsStep;
import org.transcend.pipelines.steps.RepaTargetsStep;
import org.transcend.pipelines.steps.SampleStep;
import org.transcend.pipelines.steps.TeacherTargetsStep;
import org.transcend.pipelines.steps.TrainSiTStep;
import org.transcend.pipelines.steps.TrainVaeStep;
import org.transcend.pipelines.steps.TestSetStep;
import org.transcend.pipelines.steps.TrainClassifierStep;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** The pipelines a user can run, by name; their stages may depend on the settings (for example the teacher mode). */
public final class Pipelines {
    private Pipelines() {}

    private record Entry(String description, Function<Settings, List<PipelineStage>> stages) {}

    private static final Map<String, Entry> ALL = new LinkedHashMap<>();

    static {
        ALL.put("import", new Entry("Import a dataset into the store.", s -> List.of(new ImportStep())));
        ALL.put("latents", new Entry("Import, train the VAE (unless vae.weights) and encode the latents.", Pipelines::latents));
        ALL.put("self-transcendence", new Entry("Warmup with VAE alignment, guided teacher features, the student, sampling and "
                + "evaluation (METHOD.md).", Pipelines::selfTranscendence));
        ALL.put("baseline", new Entry("Vanilla SiT on the same plan and budget as the student, sampled and evaluated.", Pipelines::baseline));
        ALL.put("vae-align", new Entry("Stage (a) alone as the final model, sampled and evaluated.", Pipelines::vaeAlign));
        ALL.put("repa", new Entry("REPA: SiT with a projector aligned to per-patch features from repa.features, on the student's "
                + "plan and budget, sampled and evaluated.", Pipelines::repa));
        ALL.put("sra", new Entry("SRA: SiT aligned to its own EMA at less noise, on the student's plan and budget, sampled and "
                + "evaluated.", Pipelines::sra));
        ALL.put("reg", new Entry("REG: SiT with one extra token carrying each image's noised global feature (the warmup teacher's "
                + "pooled block features), denoised jointly, on the student's plan and budget, sampled and evaluated.", Pipelines::reg));
        ALL.put("evaluate-test-set", new Entry("The distance of the dataset's test split (as it is, or degraded by "
                + "eval.test-set-degradation) to its imported training images: a check of the evaluation itself.", Pipelines::evaluateTestSet));
    }

    /** Import, the VAE (trained here unless vae.weights is given or in pixel space) and the latents: what every recipe starts from. */
    private static List<PipelineStage> latents(Settings s) {
        List<PipelineStage> stages = new ArrayList<>(List.of(new ImportStep()));
        if (TrainVaeStep.needed(s)) stages.add(new TrainVaeStep());
        stages.add(new EncodeLatentsStep(s));
        return stages;
    }

    /** Sampling the model of {@code modelStage}, then its distance to the training images. */
    private static List<PipelineStage> sampleAndEvaluate(Settings s, String modelStage) {
        List<PipelineStage> stages = new ArrayList<>(List.of(new SampleStep(modelStage, s)));
        if (s.get(Catalog.EVAL_FEATURES.key()).equals("classifier")) stages.add(new TrainClassifierStep());
        stages.add(new ReferenceStatsStep(s));
        stages.add(new EvaluateStep(SampleStep.NAME, s));
        return stages;
    }

    private static List<PipelineStage> selfTranscendence(Settings s) {
        List<PipelineStage> stages = latents(s);
        stages.add(TrainSiTStep.warmup(s));
        if (s.get(Catalog.TEACHER_MODE.key()).equals("cached")) stages.add(new TeacherTargetsStep());
        stages.add(TrainSiTStep.student(s));
        stages.addAll(sampleAndEvaluate(s, TrainSiTStep.STUDENT));
        return stages;
    }

    private static List<PipelineStage> baseline(Settings s) {
        List<PipelineStage> stages = latents(s);
        stages.add(TrainSiTStep.baseline(s));
        stages.addAll(sampleAndEvaluate(s, TrainSiTStep.BASELINE));
        return stages;
    }

    private static List<PipelineStage> vaeAlign(Settings s) {
        List<PipelineStage> stages = latents(s);
        stages.add(TrainSiTStep.warmup(s));
        stages.addAll(sampleAndEvaluate(s, TrainSiTStep.WARMUP));
        return stages;
    }

    private static List<PipelineStage> repa(Settings s) {
        Catalog.blockWithinDepth(s, Catalog.REPA_BLOCK);
        List<PipelineStage> stages = latents(s);
        stages.add(new RepaTargetsStep());
        stages.add(TrainSiTStep.repa(s));
        stages.addAll(sampleAndEvaluate(s, TrainSiTStep.REPA));
        return stages;
    }

    private static List<PipelineStage> sra(Settings s) {
        Catalog.blockWithinDepth(s, Catalog.SRA_STUDENT_BLOCK);
        Catalog.blockWithinDepth(s, Catalog.SRA_TEACHER_BLOCK);
        List<PipelineStage> stages = latents(s);
        stages.add(TrainSiTStep.sra(s));
        stages.addAll(sampleAndEvaluate(s, TrainSiTStep.SRA));
        return stages;
    }

    private static List<PipelineStage> reg(Settings s) {
        Catalog.blockWithinDepth(s, Catalog.REG_TEACHER_BLOCK);
        List<PipelineStage> stages = latents(s);
        stages.add(TrainSiTStep.warmup(s));
        stages.add(new RegTargetsStep());
        stages.add(TrainSiTStep.reg(s));
        stages.addAll(sampleAndEvaluate(s, TrainSiTStep.REG));
        return stages;
    }

    private static List<PipelineStage> evaluateTestSet(Settings s) {
        List<PipelineStage> stages = new ArrayList<>(List.of(new ImportStep()));
        if (s.get(Catalog.EVAL_FEATURES.key()).equals("classifier")) stages.add(new TrainClassifierStep());
        stages.add(new TestSetStep());
        stages.add(new ReferenceStatsStep(s));
        stages.add(new EvaluateStep(TestSetStep.NAME, s));
        return stages;
    }

    public static List<String> names() {
        return List.copyOf(ALL.keySet());
    }

    public static PipelineDefinition named(String name, Settings settings) {
        Entry e = ALL.get(name);
        if (e == null && name.equals("compare")) {
            throw new IllegalArgumentException("compare runs the recipes' own pipelines; it is run by `transcend run compare`, "
                    + "and its stages by the recipe's pipeline (" + String.join(", ", ALL.keySet()) + ")");
        }
        if (e == null) throw new IllegalArgumentException("unknown pipeline '" + name + "'; pipelines: " + String.join(", ", ALL.keySet())
                + ", and compare (transcend run compare)");
        return new PipelineDefinition(name, e.description(), e.stages().apply(settings));
    }
}
