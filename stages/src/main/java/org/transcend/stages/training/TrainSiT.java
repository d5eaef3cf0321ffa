package org.transcend.stages.training;

import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PBegin;
import org.apache.beam.sdk.values.PCollection;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.sit.SiT;
import org.transcend.model.train.Checkpoint;
import org.transcend.model.train.LatentData;
import org.transcend.model.train.SiTTrainer;
import org.transcend.model.train.TargetSource;
import org.transcend.schemas.CheckpointMeta;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.latents.Latents;
import org.transcend.stages.sampling.SampleSpec;
import org.transcend.stages.representation.PatchFeatureTargets;
import org.transcend.stages.teacher.CachedTargets;
import org.transcend.stages.teacher.TeacherSpec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A SiT training stage (WarmupAlign, TrainStudent or a baseline) as one worker: streams the latents and, for the
 * student, the cached teacher targets or the teacher online; checkpoints every N steps into the artifact
 * directory; and when the runner retries it, resumes from the newest checkpoint there.
 */
public final class TrainSiT extends PTransform<PBegin, PCollection<CheckpointMeta>> {

    public static final String MODEL_FILE = "model.safetensors";
    public static final String METRICS_FILE = "metrics.jsonl";

    public static final String PREVIEWS_DIR = "previews/";

    /**
     * A grid of samples from fixed seeds every {@code every} steps, drawn from the EMA weights as {@code spec} says
     * and written as {@code previews/step-NNNNNN.png}, so a researcher can watch a long run learn.
     */
    public record Preview(SampleSpec spec, long every) implements java.io.Serializable {}

    /**
     * Where the auxiliary targets come from: the guided teacher online or its cache ({@code online}, {@code cached}), or
     * REPA's per-image features ({@code per-image}, from the repa-targets artifact in {@code cacheDir}); null when the
     * objective has none.
     */
    public record Targets(String mode, TeacherSpec teacher, String cacheDir, long stepsPerShard) implements java.io.Serializable {

        public static Targets perImage(String artifactDir) {
            return new Targets("per-image", null, artifactDir, 0);
        }
    }

    private final String stage;
    private final SiTRun run;
    private final String latentsDir;
    private final String outputDir;
    private final Targets targets;
    private final Preview preview;

    /** {@code targets} only for the student; {@code preview} may be null (no previews). */
    public TrainSiT(String stage, SiTRun run, String latentsDir, String outputDir, Targets targets, Preview preview) {
        super("Train " + stage);
        this.stage = stage;
        this.run = run;
        this.latentsDir = latentsDir;
        this.outputDir = outputDir;
        this.targets = targets;
        this.preview = preview;
    }

    @Override
    public PCollection<CheckpointMeta> expand(PBegin input) {
        return input.apply("One trainer", Create.of(outputDir)).apply("Train", ParDo.of(new TrainFn(this)));
    }

    static final class TrainFn extends DoFn<String, CheckpointMeta> {
        private final TrainSiT spec;
        private final Counter steps;
        private final Counter teacherPasses;

        TrainFn(TrainSiT spec) {
            this.spec = spec;
            this.steps = Metrics.counter(spec.stage, "steps");
            this.teacherPasses = Metrics.counter(spec.stage, "teacher_forward_passes");
        }

        @ProcessElement
        public void process(OutputReceiver<CheckpointMeta> out) throws IOException {
            SiTRun run = spec.run;
            LatentData data = Latents.load(spec.latentsDir);
            TrainingPlan plan = run.plan(data.size());
            SiT model = run.initialise();
            SiTTrainer trainer = new SiTTrainer(model, plan, data, run.trainerSettings(), run.objectiveRecord(), targetSource(model));
            Checkpoints.newest(spec.outputDir).ifPresent(c -> {
                trainer.restore(c);
                System.out.printf("[%s] resuming from step %d%n", spec.stage, c.step());
            });
            warnOnSlowEma(spec.stage, run.trainerSettings().emaDecay(), run.steps());
            Path metricsLocal = LocalCopies.staging(spec.outputDir + METRICS_FILE);
            long before = trainer.completedSteps();
            Previews previews = new Previews(spec.preview, spec.outputDir + PREVIEWS_DIR);
            try (Progress progress = new Progress(spec.stage, run.steps(), run.logEvery(), System.out, metricsLocal)) {
                trainer.train(run.steps(), report -> {
                    progress.report(report);
                    previews.atStep(report.step(), trainer::emaStateDict);
                }, c -> {
                    progress.flush();
                    Checkpoints.save(c, Checkpoints.path(spec.outputDir, c.step()));
                });
            }
            steps.inc(trainer.completedSteps() - before);
            LocalCopies.publish(metricsLocal, spec.outputDir + METRICS_FILE);
            Checkpoint last = trainer.checkpoint(metadata(run));
            Checkpoints.save(last, spec.outputDir + MODEL_FILE);
            out.output(new CheckpointMeta("sit", configMap(run), last.step(), last.step() * run.batch(), MODEL_FILE, Map.of()));
        }

        private TargetSource targetSource(SiT model) throws IOException {
            Targets t = spec.targets;
            if (t == null) return null;
            return switch (t.mode()) {
                case "online" -> {
                    TargetSource teacher = TargetSource.online(t.teacher().load());
                    yield batch -> {
                        teacherPasses.inc();
                        return teacher.targets(batch);
                    };
                }
                case "cached" -> new CachedTargets(t.cacheDir(), t.stepsPerShard(), new TimeWindow(spec.run.maskLow(), spec.run.maskHigh()),
                        model.config().tokens(), spec.run.auxDim());
                case "per-image" -> TargetSource.perImage(PatchFeatureTargets.inOrder(t.cacheDir(), Latents.ids(spec.latentsDir)));
                default -> throw new IllegalArgumentException("target mode is '" + t.mode() + "'; accepted: cached, online, per-image");
            };
        }
    }

    static Map<String, String> configMap(SiTRun run) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("input_size", Integer.toString(run.inputSize()));
        m.put("patch", Integer.toString(run.patch()));
        m.put("channels", Integer.toString(run.channels()));
        m.put("hidden", Integer.toString(run.hidden()));
        m.put("depth", Integer.toString(run.depth()));
        m.put("heads", Integer.toString(run.heads()));
        m.put("qk_norm", Boolean.toString(run.qkNorm()));
        m.put("num_classes", Integer.toString(run.numClasses()));
        m.put("objective", run.objective());
        m.put("aux_block", Integer.toString(run.auxBlock()));
        m.put("prediction", run.prediction());
        return m;
    }

    static Map<String, String> metadata(SiTRun run) {
        Map<String, String> m = new LinkedHashMap<>();
        configMap(run).forEach((k, v) -> m.put("config." + k, v));
        return m;
    }


    /**
     * The EMA starts at the initial weights and keeps decay^steps of them: with the reference's 0.9999 a run of a few
     * thousand steps samples from mostly untrained weights (the fmnist-quick samples were noise so until its decay was
     * lowered). Says so before training rather than after.
     */
    static void warnOnSlowEma(String stage, double decay, long steps) {
        double initialShare = Math.pow(decay, steps);
        if (initialShare > 0.05) {
            System.out.printf(java.util.Locale.ROOT, "[%s] warning: train.ema-decay %s averages over ~%.0f steps, so after %d steps the EMA"
                    + " weights (what previews, sample and evaluate use) still hold %.0f%% of the initial ones; for a run this"
                    + " short use at most %.4f%n", stage, decay, 1 / (1 - decay), steps, 100 * initialShare, 1 - 5.0 / steps);
        }
    }
}
