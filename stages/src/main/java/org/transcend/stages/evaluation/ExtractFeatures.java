package org.transcend.stages.evaluation;

import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.windowing.BoundedWindow;
import org.apache.beam.sdk.transforms.windowing.GlobalWindow;
import org.apache.beam.sdk.values.PCollection;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.eval.FeatureNetwork;
import org.transcend.schemas.DType;
import org.transcend.schemas.Tensor;
import org.transcend.stages.io.Tensors;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Images (uint8 [C, H, W] tensors, from ImageRecords or SampleRecords) to a feature network's features, one
 * {@link FeatureRows} per network batch. Each worker loads the network once and batches the images of a bundle.
 */
public final class ExtractFeatures extends PTransform<PCollection<Tensor>, PCollection<FeatureRows>> {

    public static final String NAMESPACE = "evaluate";
    public static final int DEFAULT_BATCH = 256;

    private final FeatureNetworkSpec spec;
    private final int batchSize;

    public ExtractFeatures(FeatureNetworkSpec spec, int batchSize) {
        if (batchSize < 1) throw new IllegalArgumentException("feature batch size must be at least 1, got " + batchSize);
        this.spec = spec;
        this.batchSize = batchSize;
    }

    @Override
    public PCollection<FeatureRows> expand(PCollection<Tensor> pixels) {
        return pixels.apply("Features of " + spec.networkName(), ParDo.of(new FeaturesFn(spec, batchSize)))
                .setCoder(FeatureRows.CODER);
    }

    /** uint8 [C, H, W] tensors of one shape to a FLOAT [N, C, H, W] batch in [0, 1] (value / 255). */
    public static INDArray images01(List<Tensor> pixels) {
        long[] shape = Tensors.shape(pixels.get(0));
        int each = Math.toIntExact(Arrays.stream(shape).reduce(1, Math::multiplyExact));
        float[] values = new float[Math.multiplyExact(each, pixels.size())];
        for (int i = 0; i < pixels.size(); i++) {
            Tensor t = pixels.get(i);
            if (t.getDtype() != DType.UINT8 || !Arrays.equals(Tensors.shape(t), shape) || shape.length != 3) {
                throw new IllegalArgumentException("images to featurise must all be UINT8 [C, H, W] of one shape; got "
                        + t.getDtype() + " " + Arrays.toString(Tensors.shape(t)) + " after " + Arrays.toString(shape));
            }
            byte[] b = Tensors.bytes(t);
            for (int j = 0; j < each; j++) values[i * each + j] = (b[j] & 0xFF) / 255f;
        }
        return Nd4j.create(values, new long[]{pixels.size(), shape[0], shape[1], shape[2]}, 'c');
    }

    static final class FeaturesFn extends DoFn<Tensor, FeatureRows> {
        private final FeatureNetworkSpec spec;
        private final int batchSize;
        private final Counter images = Metrics.counter(NAMESPACE, "featurised_images");
        private transient FeatureNetwork network;
        private transient List<Tensor> pending;

        FeaturesFn(FeatureNetworkSpec spec, int batchSize) {
            this.spec = spec;
            this.batchSize = batchSize;
        }

        @Setup
        public void setup() throws IOException {
            network = spec.load();
        }

        @StartBundle
        public void startBundle() {
            pending = new ArrayList<>(batchSize);
        }

        @ProcessElement
        public void process(@Element Tensor pixels, BoundedWindow window, OutputReceiver<FeatureRows> out) {
            // The batches outlive single elements, so they are only correct when every element shares one window.
            if (!(window instanceof GlobalWindow)) {
                throw new IllegalStateException("feature extraction batches across elements and needs the global window; got " + window);
            }
            pending.add(pixels);
            if (pending.size() == batchSize) out.output(featurise());
        }

        @FinishBundle
        public void finishBundle(FinishBundleContext context) {
            if (!pending.isEmpty()) context.output(featurise(), GlobalWindow.INSTANCE.maxTimestamp(), GlobalWindow.INSTANCE);
        }

        private FeatureRows featurise() {
            INDArray features = network.features(images01(pending)).castTo(DataType.DOUBLE).dup('c');
            int n = pending.size();
            images.inc(n);
            pending = new ArrayList<>(batchSize);
            return new FeatureRows(n, network.featureDimension(), features.data().asDouble());
        }
    }
}
