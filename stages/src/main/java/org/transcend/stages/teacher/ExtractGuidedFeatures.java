package org.transcend.stages.teacher;

import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PCollection;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.train.GuidedTeacher;
import org.transcend.model.train.LatentData;
import org.transcend.model.train.TrainingBatch;
import org.transcend.schemas.DType;
import org.transcend.schemas.TeacherTarget;
import org.transcend.stages.io.Tensors;
import org.transcend.stages.latents.Latents;
import org.transcend.stages.training.SiTRun;

/**
 * CFG feature extraction: for every plan step of a shard, the frozen teacher runs up to block k_t on the
 * student's x_t with the true and the null label, and {@code f_g = f_u + w·(f_c − f_u)} is kept for the slots
 * whose t lies inside the mask. The teacher sees the whole step batch, exactly as it would in the training loop,
 * so the cached targets equal the online ones bit for bit.
 */
public final class ExtractGuidedFeatures extends PTransform<PCollection<Long>, PCollection<TeacherTarget>> {

    public static final String NAMESPACE = "teacher-targets";

    private final SiTRun student;
    private final TeacherSpec teacher;
    private final String latentsDir;
    private final long stepsPerShard;
    private final long lastStep;

    /** Targets for steps [0, lastStep) in shards of {@code stepsPerShard} steps; the input holds shard numbers. */
    public ExtractGuidedFeatures(SiTRun student, TeacherSpec teacher, String latentsDir, long stepsPerShard, long lastStep) {
        this.student = student;
        this.teacher = teacher;
        this.latentsDir = latentsDir;
        this.stepsPerShard = stepsPerShard;
        this.lastStep = lastStep;
    }

    @Override
    public PCollection<TeacherTarget> expand(PCollection<Long> shards) {
        return shards.apply("Run the guided teacher", ParDo.of(new ExtractFn(this)));
    }

    static final class ExtractFn extends DoFn<Long, TeacherTarget> {
        private final ExtractGuidedFeatures spec;
        private final Counter forwardPasses = Metrics.counter(NAMESPACE, "teacher_forward_passes");
        private final Counter targets = Metrics.counter(NAMESPACE, "targets");
        private transient GuidedTeacher guided;
        private transient LatentData data;
        private transient TrainingPlan plan;

        ExtractFn(ExtractGuidedFeatures spec) {
            this.spec = spec;
        }

        @Setup
        public void setup() throws Exception {
            guided = spec.teacher.load();
            data = Latents.load(spec.latentsDir);
            plan = spec.student.plan(data.size());
        }

        @ProcessElement
        public void process(@Element Long shard, OutputReceiver<TeacherTarget> out) {
            TimeWindow window = new TimeWindow(spec.student.maskLow(), spec.student.maskHigh());
            long from = shard * spec.stepsPerShard, to = Math.min(spec.lastStep, from + spec.stepsPerShard);
            for (long step = from; step < to; step++) {
                TrainingBatch batch = TrainingBatch.of(plan, data, step);
                int[] inside = batch.slotsInside(window);
                if (inside.length == 0) continue;
                INDArray features = guided.features(batch);
                forwardPasses.inc();
                for (int row : inside) {
                    TrainingPlan.Slot slot = batch.slots().get(row);
                    out.output(new TeacherTarget(step, slot.slot(), slot.exampleIndex(), slot.t(),
                            Tensors.encode(features.slice(row), DType.FLOAT32)));
                    targets.inc();
                }
            }
        }
    }
}
