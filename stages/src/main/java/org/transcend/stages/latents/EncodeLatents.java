package org.transcend.stages.latents;

import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.GroupByKey;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.WithKeys;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;
import org.apache.beam.sdk.values.TypeDescriptors;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.vae.AutoencoderKL;
import org.transcend.model.vae.Posterior;
import org.transcend.model.vae.VaeWeights;
import org.transcend.schemas.DType;
import org.transcend.schemas.DeadLetter;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.LatentRecord;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Tensors;
import org.transcend.stages.vae.VaeImages;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The EncodeLatents stage: encodes images with the VAE in parallel, keeping each image's posterior mean and std (a
 * fresh sample is drawn at every training step). Images are grouped into batches by a hash of their id, so a
 * retried group encodes the same images again. An image of the wrong shape, or one whose latent is not finite,
 * becomes a dead letter naming the record.
 */
public final class EncodeLatents extends PTransform<PCollection<ImageRecord>, PCollectionTuple> {

    public static final TupleTag<LatentRecord> LATENTS = new TupleTag<>() {};
    public static final TupleTag<DeadLetter> DEAD_LETTERS = new TupleTag<>() {};
    public static final String NAMESPACE = "encode-latents";

    /** {@code vaeWeights} empty: JiT's pixel space, the identity encoder (mean = the padded image in [−1, 1], std 0). */
    public record Spec(String vaeWeights, int channels, int resolution, int groups) implements Serializable {
        public boolean pixelSpace() {
            return vaeWeights.isEmpty();
        }
    }

    private final Spec spec;

    public EncodeLatents(Spec spec) {
        this.spec = spec;
    }

    @Override
    public PCollectionTuple expand(PCollection<ImageRecord> images) {
        int groups = spec.groups();
        return images
                .apply("Group by id hash", WithKeys.of((ImageRecord r) -> Math.floorMod(r.getId().hashCode(), groups))
                        .withKeyType(TypeDescriptors.integers()))
                .apply("Gather groups", GroupByKey.create())
                .apply("Encode", ParDo.of(new EncodeFn(spec)).withOutputTags(LATENTS, TupleTagList.of(DEAD_LETTERS)));
    }

    static final class EncodeFn extends DoFn<KV<Integer, Iterable<ImageRecord>>, LatentRecord> {
        private static final int BATCH = 64;
        private final Spec spec;
        private final Counter latents = Metrics.counter(NAMESPACE, "latents");
        private final Counter deadLetters = Metrics.counter(NAMESPACE, "dead_letters");
        private transient AutoencoderKL vae;

        EncodeFn(Spec spec) {
            this.spec = spec;
        }

        @Setup
        public void setup() throws Exception {
            if (!spec.pixelSpace()) vae = VaeWeights.load(LocalCopies.fetch(spec.vaeWeights()), spec.resolution());
        }

        @ProcessElement
        public void process(@Element KV<Integer, Iterable<ImageRecord>> group, MultiOutputReceiver out) {
            List<ImageRecord> batch = new ArrayList<>();
            List<ImageRecord> sorted = new ArrayList<>();
            group.getValue().forEach(sorted::add);
            sorted.sort(Comparator.comparing(ImageRecord::getId));
            for (ImageRecord r : sorted) {
                try {
                    VaeImages.toVae(r, spec.channels(), spec.resolution());
                } catch (IllegalArgumentException e) {
                    deadLetters.inc();
                    out.get(DEAD_LETTERS).output(new DeadLetter(NAMESPACE, r.getId(), e.getMessage(), null));
                    continue;
                }
                batch.add(r);
                if (batch.size() == BATCH) flush(batch, out);
            }
            if (!batch.isEmpty()) flush(batch, out);
        }

        private void flush(List<ImageRecord> batch, MultiOutputReceiver out) {
            INDArray images = VaeImages.stack(batch, spec.channels(), spec.resolution());
            Posterior p = spec.pixelSpace() ? null : vae.encode(images);
            for (int i = 0; i < batch.size(); i++) {
                INDArray mean = p == null ? images.slice(i) : p.mean().slice(i);
                INDArray std = p == null ? mean.mul(0) : p.std().slice(i);
                ImageRecord r = batch.get(i);
                if (mean.isNaN().any() || mean.isInfinite().any() || std.isNaN().any() || std.isInfinite().any()) {
                    deadLetters.inc();
                    out.get(DEAD_LETTERS).output(new DeadLetter(NAMESPACE, r.getId(), "the VAE posterior of this image is not finite", null));
                    continue;
                }
                out.get(LATENTS).output(new LatentRecord(r.getId(), r.getLabel(), Tensors.encode(mean, DType.FLOAT32),
                        Tensors.encode(std, DType.FLOAT32)));
                latents.inc();
            }
            batch.clear();
        }
    }
}
