package org.transcend.stages.representation;

import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.GroupByKey;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.WithKeys;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.TypeDescriptors;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.train.GlobalFeatureTeacher;
import org.transcend.schemas.DType;
import org.transcend.schemas.LatentRecord;
import org.transcend.schemas.PatchFeatures;
import org.transcend.stages.io.Tensors;
import org.transcend.stages.teacher.TeacherSpec;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * REG's targets, per image: the frozen warmup teacher runs on each clean latent (the posterior mean brought to the
 * network's input, {@code (mean − shift)·scale}, at t = 0 with the true label) up to block k, and its tokens are
 * mean-pooled into g [D], kept as a one-token {@link PatchFeatures} record. Images are grouped by a hash of their id and
 * run in id order, in batches of a fixed size, so a retried group, or another runner, computes the same numbers.
 */
public final class ExtractGlobalFeatures extends PTransform<PCollection<LatentRecord>, PCollection<PatchFeatures>> {

    public static final String NAMESPACE = "reg-targets";
    /** Groups of images: the unit of parallel work; fixed, as the batches within a group fix the arithmetic. */
    static final int GROUPS = 256;
    static final int BATCH = 64;

    private final TeacherSpec teacher;
    private final double scale;
    private final double shift;

    /** {@code teacher.block()} is REG's block k; {@code scale} and {@code shift} are the latents'. */
    public ExtractGlobalFeatures(TeacherSpec teacher, double scale, double shift) {
        this.teacher = teacher;
        this.scale = scale;
        this.shift = shift;
    }

    @Override
    public PCollection<PatchFeatures> expand(PCollection<LatentRecord> latents) {
        return latents
                .apply("Group by id hash", WithKeys.of((LatentRecord r) -> Math.floorMod(r.getId().toString().hashCode(), GROUPS))
                        .withKeyType(TypeDescriptors.integers()))
                .apply("Gather groups", GroupByKey.create())
                .apply("Pool the teacher's tokens", ParDo.of(new PoolFn(this)));
    }

    static final class PoolFn extends DoFn<KV<Integer, Iterable<LatentRecord>>, PatchFeatures> {
        private final ExtractGlobalFeatures spec;
        private final Counter features = Metrics.counter(NAMESPACE, "features");
        private final Counter forwardPasses = Metrics.counter(NAMESPACE, "teacher_forward_passes");
        private transient GlobalFeatureTeacher pooled;

        PoolFn(ExtractGlobalFeatures spec) {
            this.spec = spec;
        }

        @Setup
        public void setup() throws Exception {
            pooled = new GlobalFeatureTeacher(spec.teacher.network(), spec.teacher.block());
        }

        @ProcessElement
        public void process(@Element KV<Integer, Iterable<LatentRecord>> group, OutputReceiver<PatchFeatures> out) {
            List<LatentRecord> sorted = new ArrayList<>();
            group.getValue().forEach(sorted::add);
            sorted.sort(Comparator.comparing(r -> r.getId().toString()));
            for (int from = 0; from < sorted.size(); from += BATCH) {
                List<LatentRecord> batch = sorted.subList(from, Math.min(sorted.size(), from + BATCH));
                List<INDArray> means = new ArrayList<>();
                long[] labels = new long[batch.size()];
                for (int i = 0; i < batch.size(); i++) {
                    LatentRecord r = batch.get(i);
                    INDArray mean = Tensors.decodeFinite(r.getMean(), () -> "the posterior mean of latent record '" + r.getId() + "'");
                    means.add(mean.castTo(DataType.FLOAT).reshape(1, mean.size(0), mean.size(1), mean.size(2)));
                    labels[i] = r.getLabel();
                }
                INDArray x0 = Nd4j.concat(0, means.toArray(INDArray[]::new)).subi(spec.shift).muli(spec.scale);
                INDArray g = pooled.features(x0, labels);
                forwardPasses.inc();
                for (int i = 0; i < batch.size(); i++) {
                    out.output(new PatchFeatures(batch.get(i).getId(), Tensors.encode(g.getRow(i).reshape(1, pooled.width()), DType.FLOAT32)));
                    features.inc();
                }
            }
        }
    }
}
