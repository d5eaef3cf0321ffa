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
import org.transcend.model.vae.VaeWeights;
import org.transcend.schemas.SampleRecord;
import org.transcend.stages.io.LocalCopies;

import java.io.IOException;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The Sample stage: integrates the sampler with the model's EMA weights and decodes with the VAE, in parallel
 * over seed shards. Sample i's class is i mod classes and its noise derives from (run seed, i) alone, so any shard
 * can be rerun by itself and gives the same images.
 */
public final class Sample extends PTransform<PBegin, PCollection<SampleRecord>> {

    public static final String NAMESPACE = "sample";
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
        private transient Drawing drawing;

        SampleFn(SampleSpec spec) {
            this.spec = spec;
        }

        @Setup
        public void setup() throws IOException {
            drawing = new Drawing(spec, spec.model(spec.checkpoint(LocalCopies.fetch(spec.checkpoint())).emaWeights()),
                    spec.decodes() ? VaeWeights.load(LocalCopies.fetch(spec.vaeWeights()), spec.vaeResolution()) : null);
        }

        @ProcessElement
        public void process(@Element Integer shard, OutputReceiver<SampleRecord> out) {
            for (SampleRecord r : drawing.draw(spec.first(shard), spec.first(shard + 1))) {
                out.output(r);
                samples.inc();
            }
        }
    }

}
