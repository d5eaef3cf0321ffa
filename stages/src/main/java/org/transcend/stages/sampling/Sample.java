package org.transcend.stages.sampling;

import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.Reshuffle;
import org.apache.beam.sdk.values.PBegin;
import org.apache.beam.sdk.values.PCollection;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.transcend.model.flow.Prediction;
import org.transcend.model.sit.SiT;
import org.transcend.model.flow.VelocityModel;
import org.transcend.model.sit.SiTEngine;
import org.transcend.model.train.Checkpoint;
import org.transcend.model.vae.AutoencoderKL;
import org.transcend.model.vae.VaeWeights;
import org.transcend.schemas.SampleRecord;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Tensors;

import java.io.IOException;
import java.util.List;
import java.util.OptionalInt;
import java.util.stream.IntStream;

/**
 * The Sample stage: integrates the sampler with the model's EMA weights and decodes with the VAE, in parallel
 * over seed shards. Sample i's class is i mod classes and its noise derives from (run seed, i) alone, so any shard
 * can be rerun by itself and gives the same images.
 */
public final class Sample extends PTransform<PBegin, PCollection<SampleRecord>> {

    public static final String NAMESPACE = "sample";
    private static final int BATCH = 50;

    private final SampleSpec spec;

    public Sample(SampleSpec spec) {
        this.spec = spec;
    }

    @Override
    public PCollection<SampleRecord> expand(PBegin input) {
        List<Integer> shards = IntStream.range(0, spec.shards()).boxed().toList();
        return input.apply("Seed shards", Create.of(shards))
                .apply("Spread shards", Reshuffle.viaRandomKey())
                .apply("Sample and decode", ParDo.of(new SampleFn(spec)));
    }

    static final class SampleFn extends DoFn<Integer, SampleRecord> {
        private final SampleSpec spec;
        private final Counter samples = Metrics.counter(NAMESPACE, "samples");
        private transient VelocityModel velocity;
        private transient SiT model;
        private transient AutoencoderKL vae;

        SampleFn(SampleSpec spec) {
            this.spec = spec;
        }

        @Setup
        public void setup() throws IOException {
            Checkpoint c = Checkpoint.load(LocalCopies.fetch(spec.checkpoint()));
            model = SiT.fromStateDict(SiT.withoutHeads(c.emaWeights()), spec.heads(), spec.qkNorm(), OptionalInt.empty(), OptionalInt.empty());
            velocity = new SiTEngine(model).velocityModel(Prediction.valueOf(spec.prediction().toUpperCase().replace('-', '_')));
            if (!spec.vaeWeights().isEmpty()) vae = VaeWeights.load(LocalCopies.fetch(spec.vaeWeights()), spec.vaeResolution());
        }

        @ProcessElement
        public void process(@Element Integer shard, OutputReceiver<SampleRecord> out) {
            long from = spec.first(shard), to = spec.first(shard + 1);
            var c = model.config();
            long[] shape = {c.inChannels(), c.inputSize(), c.inputSize()};
            for (long first = from; first < to; first += BATCH) {
                int n = (int) Math.min(BATCH, to - first);
                long[] labels = new long[n];
                for (int i = 0; i < n; i++) labels[i] = spec.label(first + i);
                INDArray x0 = spec.sampler().sample(velocity, Nd4j.createFromArray(labels), shape, spec.seed(), first);
                INDArray latents = x0.castTo(DataType.FLOAT).divi(spec.scale()).addi(spec.shift());
                INDArray images = crop(vae == null ? latents : vae.decode(latents));
                for (int i = 0; i < n; i++) {
                    byte[] pixels = toBytes(images.slice(i));
                    long[] s = images.slice(i).shape();
                    long index = first + i;
                    out.output(new SampleRecord(index, (int) labels[i], spec.seed(), Tensors.uint8(pixels, s),
                            java.nio.ByteBuffer.wrap(Images.png(pixels, (int) s[0], (int) s[1], (int) s[2]))));
                    samples.inc();
                }
            }
        }

        private INDArray crop(INDArray images) {
            long h = images.size(2);
            if (spec.cropTo() <= 0 || spec.cropTo() >= h) return images;
            long o = (h - spec.cropTo()) / 2;
            return images.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(o, o + spec.cropTo()),
                    NDArrayIndex.interval(o, o + spec.cropTo())).dup();
        }

        /** [−1, 1] → uint8 with rounding, as the reference's (x + 1)·127.5 clamp. */
        private static byte[] toBytes(INDArray chw) {
            float[] v = chw.dup('c').reshape(chw.length()).toFloatVector();
            byte[] b = new byte[v.length];
            for (int i = 0; i < v.length; i++) b[i] = (byte) Math.max(0, Math.min(255, Math.round((v[i] + 1) * 127.5f)));
            return b;
        }
    }

}
