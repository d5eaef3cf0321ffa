package org.transcend.model.vae;

import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.PadMode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.nn.GroupNorm;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

/**
 * The AutoencoderKL of latent diffusion (CompVis {@code ldm/modules/diffusionmodules/model.py} Encoder and
 * Decoder, plus {@code quant_conv} and {@code post_quant_conv}) as ops over parameters declared in a SameDiff,
 * under latent diffusion's state_dict names and PyTorch's tensor layouts.
 */
public final class VaeGraph {

    /** latent diffusion's {@code DiagonalGaussianDistribution} clamps the log-variance to this range. */
    public static final double MIN_LOGVAR = -30, MAX_LOGVAR = 20;

    private final SameDiff sd;
    private final VaeConfig config;

    private VaeGraph(SameDiff sd, VaeConfig config) {
        this.sd = sd;
        this.config = config;
    }

    /**
     * Declares the parameters as trainable FLOAT32 VARIABLEs of {@code sd}, named as in latent diffusion, holding
     * copies of {@code parameters}; the names and shapes must be exactly those of {@link #parameterShapes}.
     */
    public static VaeGraph declare(SameDiff sd, VaeConfig config, Map<String, INDArray> parameters) {
        return declare(sd, config, parameters, DataType.FLOAT);
    }

    /** As {@link #declare(SameDiff, VaeConfig, Map)} in another floating type (DOUBLE for gradient checks). */
    public static VaeGraph declare(SameDiff sd, VaeConfig config, Map<String, INDArray> parameters, DataType type) {
        config.validate();
        requireStateDict(config, parameters);
        for (String name : parameterShapes(config).keySet()) {
            sd.var(name, parameters.get(name).castTo(type).dup('c'));
        }
        return new VaeGraph(sd, config);
    }

    public SameDiff sameDiff() {
        return sd;
    }

    public VaeConfig config() {
        return config;
    }

    /** The diagonal Gaussian posterior as graph values: the moments split and the log-variance clamped. */
    public record PosteriorVariables(SDVariable mean, SDVariable logvar, SDVariable std) {}

    /** {@code quant_conv(encoder(images))}: [N, 2·z, h, w], the mean then the log-variance along channels. */
    public SDVariable moments(SDVariable images) {
        SDVariable h = conv(images, "encoder.conv_in", 1, 1);
        for (int level = 0; level < config.levels(); level++) {
            String down = "encoder.down." + level;
            for (int j = 0; j < config.resBlocksPerLevel(); j++) {
                h = resnetBlock(h, down + ".block." + j);
                if (config.attendsAt(level)) h = attention(h, down + ".attn." + j);
            }
            if (level != config.levels() - 1) h = downsample(h, down + ".downsample.conv");
        }
        h = mid(h, "encoder.mid");
        h = conv(silu(norm(h, "encoder.norm_out")), "encoder.conv_out", 1, 1);
        return conv(h, "quant_conv", 1, 0);
    }

    /** Splits moments into mean and log-variance, clamps the latter to [−30, 20] and takes std = exp(logvar / 2). */
    public PosteriorVariables posterior(SDVariable moments) {
        long z = config.latentChannels();
        SDVariable mean = moments.get(SDIndex.all(), SDIndex.interval(0L, z), SDIndex.all(), SDIndex.all());
        SDVariable rawLogvar = moments.get(SDIndex.all(), SDIndex.interval(z, 2 * z), SDIndex.all(), SDIndex.all());
        SDVariable logvar = sd.math.clipByValue(rawLogvar, MIN_LOGVAR, MAX_LOGVAR);
        return new PosteriorVariables(mean, logvar, sd.math.exp(logvar.mul(0.5)));
    }

    /** {@code decoder(post_quant_conv(latents))}: [N, outChannels, h·f, w·f] for the downsampling factor f. */
    public SDVariable decode(SDVariable latents) {
        SDVariable h = conv(latents, "post_quant_conv", 1, 0);
        h = conv(h, "decoder.conv_in", 1, 1);
        h = mid(h, "decoder.mid");
        for (int level = config.levels() - 1; level >= 0; level--) {
            String up = "decoder.up." + level;
            for (int j = 0; j <= config.resBlocksPerLevel(); j++) {
                h = resnetBlock(h, up + ".block." + j);
                if (config.attendsAt(level)) h = attention(h, up + ".attn." + j);
            }
            if (level != 0) h = conv(sd.cnn.upsampling2d(h, 2, 2, true), up + ".upsample.conv", 1, 1);
        }
        return conv(silu(norm(h, "decoder.norm_out")), "decoder.conv_out", 1, 1);
    }

    /** The current parameter values under their latent-diffusion names, copied out of the graph. */
    public Map<String, INDArray> stateDict() {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (String name : parameterShapes(config).keySet()) out.put(name, sd.getArrForVarName(name).dup());
        return out;
    }

    /** Overwrites every parameter in place; the names and shapes must be exactly those of {@link #parameterShapes}. */
    public void loadStateDict(Map<String, INDArray> parameters) {
        requireStateDict(config, parameters);
        for (String name : parameterShapes(config).keySet()) {
            sd.getArrForVarName(name).assign(parameters.get(name));
        }
    }

    private SDVariable mid(SDVariable h, String prefix) {
        return resnetBlock(attention(resnetBlock(h, prefix + ".block_1"), prefix + ".attn_1"), prefix + ".block_2");
    }

    private SDVariable resnetBlock(SDVariable x, String prefix) {
        SDVariable h = conv(silu(norm(x, prefix + ".norm1")), prefix + ".conv1", 1, 1);
        h = conv(silu(norm(h, prefix + ".norm2")), prefix + ".conv2", 1, 1);
        SDVariable shortcut = sd.hasVariable(prefix + ".nin_shortcut.weight") ? conv(x, prefix + ".nin_shortcut", 1, 0) : x;
        return shortcut.add(h);
    }

    /** Single-head self-attention over the H·W positions, with 1×1 convolutions for q, k, v and the output. */
    private SDVariable attention(SDVariable x, String prefix) {
        long c = parameter(prefix + ".q.bias").getShape()[0];
        SDVariable h = norm(x, prefix + ".norm");
        SDVariable shape = sd.shape(x);
        SDVariable flatShape = sd.concat(0, shape.get(SDIndex.interval(0, 2)), sd.constant(Nd4j.createFromArray(-1L)));
        SDVariable q = sd.reshape(conv(h, prefix + ".q", 1, 0), flatShape);
        SDVariable k = sd.reshape(conv(h, prefix + ".k", 1, 0), flatShape);
        SDVariable v = sd.reshape(conv(h, prefix + ".v", 1, 0), flatShape);
        SDVariable scores = sd.mmul(sd.permute(q, 0, 2, 1), k).mul(1.0 / Math.sqrt(c));
        SDVariable weights = sd.nn.softmax(scores, 2);
        SDVariable attended = sd.mmul(v, sd.permute(weights, 0, 2, 1));
        return x.add(conv(sd.reshape(attended, shape), prefix + ".proj_out", 1, 0));
    }

    /** latent diffusion pads right and bottom by one, then convolves with stride 2 and no padding. */
    private SDVariable downsample(SDVariable x, String prefix) {
        SDVariable padding = sd.constant(Nd4j.createFromArray(new int[][]{{0, 0}, {0, 0}, {0, 1}, {0, 1}}));
        SDVariable padded = sd.nn.pad(x, padding, PadMode.CONSTANT, 0.0);
        return conv(padded, prefix, 2, 0);
    }

    private SDVariable norm(SDVariable x, String prefix) {
        SDVariable weight = parameter(prefix + ".weight");
        return GroupNorm.apply(x, weight, parameter(prefix + ".bias"), (int) weight.getShape()[0],
                config.normGroups(), VaeConfig.NORM_EPS);
    }

    private SDVariable silu(SDVariable x) {
        return x.mul(sd.nn.sigmoid(x));
    }

    /**
     * A square convolution with PyTorch's [out, in, k, k] weights, permuted in the graph to SameDiff's default
     * [k, k, in, out]: declaring them as OIYX computes the forward pass but fails shape inference in conv2d_bp.
     */
    private SDVariable conv(SDVariable x, String prefix, int stride, int padding) {
        SDVariable weight = parameter(prefix + ".weight");
        long kernel = weight.getShape()[2];
        Conv2DConfig cfg = Conv2DConfig.builder().kH(kernel).kW(kernel).sH(stride).sW(stride).pH(padding).pW(padding)
                .dataFormat(Conv2DConfig.NCHW).build();
        return sd.cnn.conv2d(x, sd.permute(weight, 2, 3, 1, 0), parameter(prefix + ".bias"), cfg);
    }

    private SDVariable parameter(String name) {
        SDVariable v = sd.getVariable(name);
        if (v == null) throw new IllegalStateException("parameter " + name + " was not declared in this graph");
        return v;
    }

    /**
     * Every parameter of the configuration with its PyTorch shape, in the order latent diffusion's modules are
     * constructed; this mirrors the reference's {@code __init__} as the ops above mirror its {@code forward}.
     */
    public static Map<String, long[]> parameterShapes(VaeConfig config) {
        Map<String, long[]> s = new LinkedHashMap<>();
        int z = config.latentChannels();
        int last = config.levels() - 1;

        convShapes(s, "encoder.conv_in", config.channels(), config.inChannels(), 3);
        int blockIn = config.channels();
        for (int level = 0; level <= last; level++) {
            int blockOut = config.levelChannels(level);
            for (int j = 0; j < config.resBlocksPerLevel(); j++) {
                resnetShapes(s, "encoder.down." + level + ".block." + j, blockIn, blockOut);
                blockIn = blockOut;
                if (config.attendsAt(level)) attentionShapes(s, "encoder.down." + level + ".attn." + j, blockIn);
            }
            if (level != last) convShapes(s, "encoder.down." + level + ".downsample.conv", blockIn, blockIn, 3);
        }
        midShapes(s, "encoder.mid", blockIn);
        normShapes(s, "encoder.norm_out", blockIn);
        convShapes(s, "encoder.conv_out", 2 * z, blockIn, 3);

        blockIn = config.levelChannels(last);
        convShapes(s, "decoder.conv_in", blockIn, z, 3);
        midShapes(s, "decoder.mid", blockIn);
        for (int level = last; level >= 0; level--) {
            int blockOut = config.levelChannels(level);
            for (int j = 0; j <= config.resBlocksPerLevel(); j++) {
                resnetShapes(s, "decoder.up." + level + ".block." + j, blockIn, blockOut);
                blockIn = blockOut;
                if (config.attendsAt(level)) attentionShapes(s, "decoder.up." + level + ".attn." + j, blockIn);
            }
            if (level != 0) convShapes(s, "decoder.up." + level + ".upsample.conv", blockIn, blockIn, 3);
        }
        normShapes(s, "decoder.norm_out", blockIn);
        convShapes(s, "decoder.conv_out", config.outChannels(), blockIn, 3);

        convShapes(s, "quant_conv", 2 * z, 2 * z, 1);
        convShapes(s, "post_quant_conv", z, z, 1);
        return s;
    }

    private static void convShapes(Map<String, long[]> s, String prefix, int out, int in, int kernel) {
        s.put(prefix + ".weight", new long[]{out, in, kernel, kernel});
        s.put(prefix + ".bias", new long[]{out});
    }

    private static void normShapes(Map<String, long[]> s, String prefix, int channels) {
        s.put(prefix + ".weight", new long[]{channels});
        s.put(prefix + ".bias", new long[]{channels});
    }

    private static void resnetShapes(Map<String, long[]> s, String prefix, int in, int out) {
        normShapes(s, prefix + ".norm1", in);
        convShapes(s, prefix + ".conv1", out, in, 3);
        normShapes(s, prefix + ".norm2", out);
        convShapes(s, prefix + ".conv2", out, out, 3);
        if (in != out) convShapes(s, prefix + ".nin_shortcut", out, in, 1);
    }

    private static void attentionShapes(Map<String, long[]> s, String prefix, int channels) {
        normShapes(s, prefix + ".norm", channels);
        for (String p : List.of("q", "k", "v", "proj_out")) convShapes(s, prefix + "." + p, channels, channels, 1);
    }

    private static void midShapes(Map<String, long[]> s, String prefix, int channels) {
        resnetShapes(s, prefix + ".block_1", channels, channels);
        attentionShapes(s, prefix + ".attn_1", channels);
        resnetShapes(s, prefix + ".block_2", channels, channels);
    }

    /**
     * Checks that {@code parameters} holds exactly the configuration's tensors with their shapes; the error names
     * the missing tensors, or the first extra tensor or wrong shape, with the shape expected.
     */
    public static void requireStateDict(VaeConfig config, Map<String, INDArray> parameters) {
        requireStateDict(config, parameters, name -> "'" + name + "'");
    }

    /** As {@link #requireStateDict(VaeConfig, Map)}, naming each tensor in errors by {@code describe(name)}. */
    public static void requireStateDict(VaeConfig config, Map<String, INDArray> parameters, UnaryOperator<String> describe) {
        Map<String, long[]> expected = parameterShapes(config);
        List<String> missing = expected.keySet().stream().filter(n -> !parameters.containsKey(n)).toList();
        if (!missing.isEmpty()) {
            String first = missing.get(0);
            throw new IllegalArgumentException("missing tensor " + describe.apply(first) + " of shape "
                    + Arrays.toString(expected.get(first)) + (missing.size() > 1 ? " and " + (missing.size() - 1) + " more: "
                    + String.join(", ", missing.subList(1, Math.min(missing.size(), 4))) + (missing.size() > 4 ? ", ..." : "") : ""));
        }
        for (Map.Entry<String, INDArray> e : parameters.entrySet()) {
            long[] shape = expected.get(e.getKey());
            if (shape == null) {
                throw new IllegalArgumentException("extra tensor " + describe.apply(e.getKey()) + " of shape "
                        + Arrays.toString(e.getValue().shape()) + " is no parameter of " + config);
            }
            if (!Arrays.equals(shape, e.getValue().shape())) {
                throw new IllegalArgumentException("tensor " + describe.apply(e.getKey()) + " has shape "
                        + Arrays.toString(e.getValue().shape()) + "; expected " + Arrays.toString(shape));
            }
        }
    }

    /**
     * Fresh parameters as PyTorch initialises the modules: convolution weights and biases uniform in
     * ±1/√fan_in (kaiming_uniform with a = √5), GroupNorm weights 1 and biases 0.
     */
    public static Map<String, INDArray> initialParameters(VaeConfig config, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, long[]> shapes = parameterShapes(config);
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String name = e.getKey();
            String module = name.substring(0, name.lastIndexOf('.'));
            long[] weightShape = shapes.get(module + ".weight");
            long[] shape = e.getValue();
            INDArray a;
            if (weightShape.length == 1) {
                a = name.endsWith(".weight") ? Nd4j.ones(DataType.FLOAT, shape)
                        : Nd4j.zeros(DataType.FLOAT, shape);
            } else {
                double bound = 1.0 / Math.sqrt(weightShape[1] * weightShape[2] * weightShape[3]);
                float[] v = new float[(int) Arrays.stream(shape).reduce(1, Math::multiplyExact)];
                for (int i = 0; i < v.length; i++) v[i] = (float) random.nextDouble(-bound, bound);
                a = Nd4j.create(v, shape, 'c');
            }
            out.put(name, a);
        }
        return out;
    }
}
