package org.transcend.model.eval;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Pooling2DConfig;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.transcend.model.io.Safetensors;
import org.transcend.model.io.WeightsFileException;
import org.transcend.model.sit.Layers;
import org.transcend.model.train.AdamW;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A small CNN trained on a dataset's real images whose penultimate activations stand in for Inception features
 * where no Inception weights exist; the distance on them is reported as "FD-&lt;dataset&gt;-classifier".
 *
 * <p>Layout: per entry of {@code widths} a 3×3 convolution (padding 1) with bias, ReLU and a 2×2 max pool; then
 * a dense layer with ReLU (the features) and a linear classifier (the logits). Images enter in [0, 1] and are
 * scaled to 2x − 1. The graph holds this object's arrays, so an optimiser step on them is a step of the model.
 */
public final class DomainClassifier implements FeatureNetwork {

    /** Images per graph run when computing features, logits or accuracy of a whole set. */
    public static final int EVAL_BATCH = 256;

    private static final String IMAGES = "images";
    private static final String LABELS = "labels";

    /** Image channels and side, convolution widths, feature dimension and number of classes. */
    public record Config(int channels, int imageSize, List<Integer> widths, int featureDimension, int numClasses) {
        public Config {
            widths = List.copyOf(widths);
        }

        /** The feature dimension of {@link #small}. */
        public static final int SMALL_FEATURES = 128;

        /** Two conv blocks of 32 and 64 channels and {@link #SMALL_FEATURES} features, for 28×28 or 32×32 images. */
        public static Config small(int channels, int imageSize, int numClasses) {
            return new Config(channels, imageSize, List.of(32, 64), SMALL_FEATURES, numClasses).validate();
        }

        public Config validate() {
            if (channels != 1 && channels != 3) {
                throw new IllegalArgumentException("channels " + channels + "; accepted: 1 or 3");
            }
            if (widths.isEmpty() || widths.stream().anyMatch(w -> w < 1)) {
                throw new IllegalArgumentException("widths " + widths + "; accepted: one or more positive channel counts");
            }
            if (pooledSize() < 1) {
                throw new IllegalArgumentException("image size " + imageSize + " halves to nothing after " + widths.size()
                        + " pools; accepted: at least " + (1 << widths.size()));
            }
            if (featureDimension < 1 || numClasses < 2) {
                throw new IllegalArgumentException("feature dimension " + featureDimension + " and " + numClasses
                        + " classes; accepted: at least 1 feature and 2 classes");
            }
            return this;
        }

        /** The side of the last feature map: each 2×2 pool halves it, rounding down. */
        public int pooledSize() {
            return imageSize >> widths.size();
        }

        int flattened() {
            return widths.get(widths.size() - 1) * pooledSize() * pooledSize();
        }

        Map<String, String> metadata() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("channels", Integer.toString(channels));
            m.put("image_size", Integer.toString(imageSize));
            m.put("widths", String.join(",", widths.stream().map(String::valueOf).toList()));
            m.put("feature_dimension", Integer.toString(featureDimension));
            m.put("num_classes", Integer.toString(numClasses));
            return m;
        }

        static Config fromMetadata(Map<String, String> m, Path file) {
            try {
                return new Config(Integer.parseInt(m.get("channels")), Integer.parseInt(m.get("image_size")),
                        Arrays.stream(m.get("widths").split(",")).map(Integer::parseInt).toList(),
                        Integer.parseInt(m.get("feature_dimension")), Integer.parseInt(m.get("num_classes"))).validate();
            } catch (NullPointerException | NumberFormatException e) {
                throw new WeightsFileException(file, "metadata " + m + " does not describe a domain classifier; it needs "
                        + "channels, image_size, widths, feature_dimension and num_classes");
            }
        }
    }

    private final Config config;
    private final DataType dataType;
    private final Map<String, long[]> shapes;
    private final Map<String, INDArray> params = new LinkedHashMap<>();
    private SameDiff sd;
    private SDVariable features;
    private SDVariable logits;
    private SDVariable loss;

    private DomainClassifier(Config config, DataType dataType) {
        org.transcend.model.nn.DeferredDeallocation.install(); // ND4J frees buffers under running ops otherwise
        this.config = config.validate();
        this.dataType = dataType;
        this.shapes = shapes(config);
    }

    /** A new classifier with PyTorch's default initialisation (weights and biases U(±1/√fan_in)), seeded. */
    public static DomainClassifier initialise(Config config, DataType dataType, long seed) {
        DomainClassifier c = new DomainClassifier(config, dataType);
        SplittableRandom random = new SplittableRandom(seed);
        c.shapes.forEach((name, shape) -> {
            String layer = name.substring(0, name.lastIndexOf('.'));
            long[] weightShape = c.shapes.get(layer + ".weight");
            long fanIn = Arrays.stream(weightShape).skip(1).reduce(1, Math::multiplyExact);
            double bound = 1 / Math.sqrt(fanIn);
            long count = Arrays.stream(shape).reduce(1, Math::multiplyExact);
            double[] values = new double[(int) count];
            for (int i = 0; i < values.length; i++) values[i] = (2 * random.nextDouble() - 1) * bound;
            c.params.put(name, Nd4j.create(values, shape, DataType.DOUBLE).castTo(dataType));
        });
        c.build();
        return c;
    }

    /** Reads a classifier written by {@link #write}: its config from the metadata, its tensors checked. */
    public static DomainClassifier read(Path file) throws IOException {
        Safetensors.Contents contents = Safetensors.read(file);
        DomainClassifier c = new DomainClassifier(Config.fromMetadata(contents.metadata(), file), DataType.FLOAT);
        c.shapes.forEach((name, shape) -> c.params.put(name, Nd4j.zeros(DataType.FLOAT, shape)));
        try {
            c.loadStateDict(contents.tensors());
        } catch (IllegalArgumentException e) {
            throw new WeightsFileException(file, e.getMessage());
        }
        c.build();
        return c;
    }

    /** Writes the state dict as float32 safetensors with the config as metadata. */
    public void write(Path file) throws IOException {
        Safetensors.write(file, stateDict(), config.metadata(), Safetensors.Dtype.F32);
    }

    private static Map<String, long[]> shapes(Config config) {
        Map<String, long[]> s = new LinkedHashMap<>();
        int in = config.channels();
        for (int i = 0; i < config.widths().size(); i++) {
            int out = config.widths().get(i);
            s.put(convName(i) + ".weight", new long[]{out, in, 3, 3});
            s.put(convName(i) + ".bias", new long[]{out});
            in = out;
        }
        s.put("fc.weight", new long[]{config.featureDimension(), config.flattened()});
        s.put("fc.bias", new long[]{config.featureDimension()});
        s.put("head.weight", new long[]{config.numClasses(), config.featureDimension()});
        s.put("head.bias", new long[]{config.numClasses()});
        return s;
    }

    private static String convName(int block) {
        return "conv" + (block + 1);
    }

    private void build() {
        sd = SameDiff.create();
        SDVariable images = sd.placeHolder(IMAGES, dataType, -1, config.channels(), config.imageSize(), config.imageSize());
        SDVariable labels = sd.placeHolder(LABELS, dataType, -1, config.numClasses());
        Map<String, SDVariable> p = new LinkedHashMap<>();
        params.forEach((name, a) -> p.put(name, sd.var(name, a)));
        SDVariable x = images.mul(2.0).sub(1.0);
        for (int i = 0; i < config.widths().size(); i++) {
            Conv2DConfig conv = Conv2DConfig.builder().kH(3).kW(3).sH(1).sW(1).pH(1).pW(1).paddingMode(PaddingMode.VALID)
                    .dataFormat(Conv2DConfig.NCHW).build();
            // conv2d_bp fails validation with OIYX weights in M2.1, so the PyTorch layout is permuted to the default YXIO.
            SDVariable weight = sd.permute(p.get(convName(i) + ".weight"), 2, 3, 1, 0);
            x = sd.nn.relu(sd.cnn().conv2d(x, weight, p.get(convName(i) + ".bias"), conv), 0.0);
            x = sd.cnn().maxPooling2d(x, Pooling2DConfig.builder().kH(2).kW(2).sH(2).sW(2).paddingMode(PaddingMode.VALID)
                    .isNHWC(false).build());
        }
        SDVariable flat = sd.reshape(x, -1, config.flattened());
        features = sd.nn.relu(Layers.linear(sd, flat, p.get("fc.weight"), p.get("fc.bias")), 0.0);
        logits = Layers.linear(sd, features, p.get("head.weight"), p.get("head.bias"));
        // Cross-entropy as −Σ onehot·log softmax, averaged over the batch: one-hot labels avoid gather's broken gradient.
        loss = labels.mul(sd.nn.logSoftmax(logits)).sum(1).mean().neg();
        sd.setLossVariables(loss);
        org.transcend.model.train.GradientFunction.create(sd);
    }

    public Config config() {
        return config;
    }

    public DataType dataType() {
        return dataType;
    }

    @Override
    public int featureDimension() {
        return config.featureDimension();
    }

    /** Penultimate activations [N, featureDimension] (after the dense layer's ReLU). */
    @Override
    public INDArray features(INDArray images01) {
        return inBatches(images01, features, config.featureDimension());
    }

    /** Class scores [N, numClasses] before softmax. */
    public INDArray logits(INDArray images01) {
        return inBatches(images01, logits, config.numClasses());
    }

    /** The fraction of images whose highest logit is their label. */
    public double accuracy(INDArray images01, int[] labels) {
        checkLabels(labels, images01.size(0));
        INDArray predicted = logits(images01).argMax(1);
        long correct = 0;
        for (int i = 0; i < labels.length; i++) {
            if (predicted.getLong(i) == labels[i]) correct++;
        }
        return (double) correct / labels.length;
    }

    /** The mean cross-entropy of a batch. */
    public double loss(INDArray images01, int[] labels) {
        return sd.output(inputs(images01, labels), loss.name()).get(loss.name()).getDouble(0);
    }

    /** Gradients of the mean cross-entropy of a batch, by parameter name. */
    public Map<String, INDArray> gradients(INDArray images01, int[] labels) {
        return sd.calculateGradients(inputs(images01, labels), params.keySet());
    }

    /**
     * One AdamW step on a batch (the caller chooses the batches and their order); {@code step} counts updates
     * from 1, as {@link AdamW#update} does. Returns the batch's loss before the step.
     */
    public double trainStep(INDArray images01, int[] labels, AdamW optimizer, long step) {
        OutAndGrad result = sd.calculateGradientsAndOutputs(inputs(images01, labels), List.of(loss.name()), params.keySet());
        optimizer.update(params, result.getGradients(), step);
        return result.getOutputs().get(loss.name()).getDouble(0);
    }

    /** A copy of every parameter: {@code conv<i>.weight} [out, in, 3, 3], {@code fc.*}, {@code head.*}. */
    public Map<String, INDArray> stateDict() {
        Map<String, INDArray> copy = new LinkedHashMap<>();
        params.forEach((name, a) -> copy.put(name, a.dup()));
        return copy;
    }

    /** Copies a state dict in (cast to this classifier's type); missing, unexpected or misshapen tensors are all named. */
    public void loadStateDict(Map<String, INDArray> weights) {
        List<String> problems = new ArrayList<>();
        shapes.forEach((name, shape) -> {
            INDArray a = weights.get(name);
            if (a == null) {
                problems.add("missing '" + name + "' " + Arrays.toString(shape));
            } else if (!Arrays.equals(a.shape(), shape)) {
                problems.add("'" + name + "' has shape " + Arrays.toString(a.shape()) + ", expected " + Arrays.toString(shape));
            }
        });
        weights.keySet().stream().filter(name -> !shapes.containsKey(name))
                .forEach(name -> problems.add("unexpected '" + name + "' " + Arrays.toString(weights.get(name).shape())));
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("the state dict does not fit " + config + ": " + String.join("; ", problems));
        }
        shapes.keySet().forEach(name -> params.get(name).assign(weights.get(name).castTo(dataType)));
    }

    private Map<String, INDArray> inputs(INDArray images01, int[] labels) {
        checkImages(images01);
        checkLabels(labels, images01.size(0));
        INDArray oneHot = Nd4j.zeros(dataType, labels.length, config.numClasses());
        for (int i = 0; i < labels.length; i++) oneHot.putScalar(i, labels[i], 1.0);
        return Map.of(IMAGES, images01.castTo(dataType), LABELS, oneHot);
    }

    private INDArray inBatches(INDArray images01, SDVariable output, int width) {
        checkImages(images01);
        long n = images01.size(0);
        INDArray out = Nd4j.create(dataType, n, width);
        for (long start = 0; start < n; start += EVAL_BATCH) {
            long end = Math.min(n, start + EVAL_BATCH);
            INDArray batch = images01.get(NDArrayIndex.interval(start, end)).castTo(dataType);
            out.get(NDArrayIndex.interval(start, end)).assign(sd.output(Map.of(IMAGES, batch), output.name()).get(output.name()));
        }
        return out;
    }

    private void checkImages(INDArray images01) {
        long[] expected = {images01.rank() == 4 ? images01.size(0) : -1, config.channels(), config.imageSize(), config.imageSize()};
        if (!Arrays.equals(images01.shape(), expected)) {
            throw new IllegalArgumentException("images have shape " + Arrays.toString(images01.shape()) + "; expected [N, "
                    + config.channels() + ", " + config.imageSize() + ", " + config.imageSize() + "]");
        }
    }

    private void checkLabels(int[] labels, long n) {
        if (labels.length != n) {
            throw new IllegalArgumentException(labels.length + " labels for " + n + " images; one label per image is needed");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= config.numClasses()) {
                throw new IllegalArgumentException("label " + labels[i] + " at position " + i + " lies outside 0 to " + (config.numClasses() - 1));
            }
        }
    }
}
