package org.transcend.model.vae;

import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.same.Identity;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Sigmoid;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The AutoencoderKL of {@link VaeGraph} and its training objective {@link VaeLoss}, forward and backward written out
 * by hand on buffers allocated once per batch size, because ND4J's conv2d (im2col) and SameDiff's per-op work leave
 * most of the time outside matrix products.
 *
 * <p>Activations are channel-major [C, N, H, W], so every 1×1 convolution is one GEMM on [C, N·H·W] and a 3×3
 * convolution is nine GEMMs, one per tap, over shifted views of a zero-padded copy of its input (no im2col);
 * GroupNorm statistics are row sums of [C·N, H·W] views pooled by a [C, groups] 0/1 matrix; nearest 2× upsampling
 * is a product with a constant 0/1 matrix. While a pass trains, each step records its backward on a tape that
 * {@link #backward} replays in reverse.
 *
 * <p>The engine computes with the tensors it is given (latent-diffusion names, PyTorch layouts), so an optimiser
 * step on them is seen by the next pass. It keeps state between passes and is not safe for concurrent use.
 */
public final class VaeEngine {

    /** The objective on the last training batch: what is minimised, and its two terms. */
    public record LossTerms(double loss, double reconstruction, double kl) {}

    private final VaeConfig config;
    private final DataType type;
    private final Map<String, INDArray> parameters;
    private final Map<String, INDArray> gradients = new LinkedHashMap<>();
    /** Each 3×3 convolution's weights as [9, out, in], one matrix per tap, refreshed by every pass. */
    private final Map<String, INDArray> taps = new HashMap<>();
    private final Map<String, INDArray> constants = new HashMap<>();
    private Map<String, INDArray> ws = new HashMap<>();
    private int n;
    /** Whether the current pass keeps every activation and records its backward. */
    private boolean training;
    private final List<Runnable> tape = new ArrayList<>();
    /** Alternates the two buffers an inference pass keeps its main path in. */
    private boolean parity;
    private boolean backwardReady;

    /** @param parameters every tensor of {@link VaeGraph#parameterShapes}, all FLOAT or all DOUBLE; used live, not copied */
    public VaeEngine(VaeConfig config, Map<String, INDArray> parameters) {
        org.transcend.model.nn.DeferredDeallocation.install(); // ND4J frees buffers under running ops otherwise
        this.config = config.validate();
        VaeGraph.requireStateDict(config, parameters);
        this.parameters = parameters;
        this.type = parameters.values().iterator().next().dataType();
        for (Map.Entry<String, INDArray> e : parameters.entrySet()) {
            if (e.getValue().dataType() != type || !e.getValue().isR()) {
                throw new IllegalArgumentException("parameter " + e.getKey() + " is " + e.getValue().dataType()
                        + "; accepted: every parameter FLOAT or every parameter DOUBLE (here " + type + ")");
            }
            gradients.put(e.getKey(), Nd4j.zeros(type, e.getValue().shape()));
        }
    }

    public VaeConfig config() {
        return config;
    }

    public DataType dataType() {
        return type;
    }

    /** The posterior of images [N, inChannels, H, W] in [−1, 1], as fresh arrays. */
    public Posterior encode(INDArray images) {
        requireBatch("images", images, config.inChannels(), config.downsamplingFactor());
        begin(images.size(0), false);
        Act moments = encoder(channelMajor(images, "images"));
        int z = config.latentChannels();
        INDArray std = buf("std", z, moments.positions());
        posteriorStd(rows(moments.matrix(), z, 2 * z), std);
        INDArray both = batchMajor(moments.value);
        INDArray mean = both.get(NDArrayIndex.all(), NDArrayIndex.interval(0, z)).dup('c');
        return new Posterior(mean, batchMajor(std.reshape(z, n, moments.h, moments.w)), both);
    }

    /** The images [N, outChannels, h·f, w·f] decoded from unscaled latents [N, latentChannels, h, w], a fresh array. */
    public INDArray decode(INDArray latents) {
        requireBatch("latents", latents, config.latentChannels(), 1);
        begin(latents.size(0), false);
        return batchMajor(decoder(channelMajor(latents, "latents")).value);
    }

    /**
     * The training pass: encodes {@code images} [N, C, H, W] in [−1, 1], decodes the reparameterised sample
     * {@code mean + std · noise} ({@code noise} [N, z, h, w] standard normal) and scores the reconstruction, keeping
     * what {@link #backward} needs.
     */
    public LossTerms loss(INDArray images, INDArray noise, VaeLoss.Weights weights) {
        requireBatch("images", images, config.inChannels(), config.downsamplingFactor());
        int f = config.downsamplingFactor(), z = config.latentChannels();
        long[] noiseShape = {images.size(0), z, images.size(2) / f, images.size(3) / f};
        if (!Arrays.equals(noise.shape(), noiseShape)) {
            throw new IllegalArgumentException("noise has shape " + Arrays.toString(noise.shape()) + "; expected "
                    + Arrays.toString(noiseShape) + " for images " + Arrays.toString(images.shape()));
        }
        begin(images.size(0), true);
        Act x = channelMajor(images, "images");
        Act moments = encoder(x);
        Act latents = sample(moments, channelMajor(noise, "noise"), weights.kl());
        Act decoded = decoder(latents);
        double reconstruction = reconstruction(x, decoded, weights);
        double kl = divergence(moments);
        backwardReady = true;
        return new LossTerms(reconstruction + weights.kl() * kl, reconstruction, kl);
    }

    /**
     * The gradients of the last {@link #loss} with respect to every parameter, under the latent-diffusion names;
     * the engine's buffers, overwritten by the next call.
     */
    public Map<String, INDArray> backward() {
        if (!backwardReady) throw new IllegalStateException("backward needs a training pass: call loss(...) first");
        backwardReady = false;
        for (int i = tape.size() - 1; i >= 0; i--) tape.get(i).run();
        return gradients;
    }

    // ---------------------------------------------------------------- the autoencoder, top-down

    /** {@code quant_conv(encoder(images))}: the moments [2z, N, h, w], mean then log-variance along channels. */
    private Act encoder(Act x) {
        Act h = conv3x3(x, "encoder.conv_in", 1, path("encoder.conv_in"));
        for (int level = 0; level < config.levels(); level++) {
            String down = "encoder.down." + level;
            for (int j = 0; j < config.resBlocksPerLevel(); j++) {
                h = resnetBlock(h, down + ".block." + j);
                if (config.attendsAt(level)) h = attention(h, down + ".attn." + j);
            }
            if (level != config.levels() - 1) h = conv3x3(h, down + ".downsample.conv", 2, path(down + ".downsample"));
        }
        h = mid(h, "encoder.mid");
        h = conv3x3(silu(norm(h, "encoder.norm_out")), "encoder.conv_out", 1, path("encoder.conv_out"));
        return conv1x1(h, "quant_conv", "moments");
    }

    /** {@code decoder(post_quant_conv(latents))}: images [outChannels, N, h·f, w·f]. */
    private Act decoder(Act latents) {
        Act h = conv1x1(latents, "post_quant_conv", path("post_quant_conv"));
        h = conv3x3(h, "decoder.conv_in", 1, path("decoder.conv_in"));
        h = mid(h, "decoder.mid");
        for (int level = config.levels() - 1; level >= 0; level--) {
            String up = "decoder.up." + level;
            for (int j = 0; j <= config.resBlocksPerLevel(); j++) {
                h = resnetBlock(h, up + ".block." + j);
                if (config.attendsAt(level)) h = attention(h, up + ".attn." + j);
            }
            if (level != 0) h = conv3x3(upsample(h, up + ".upsample"), up + ".upsample.conv", 1, path(up + ".upsample.conv"));
        }
        return conv3x3(silu(norm(h, "decoder.norm_out")), "decoder.conv_out", 1, "decoded");
    }

    private Act mid(Act h, String prefix) {
        return resnetBlock(attention(resnetBlock(h, prefix + ".block_1"), prefix + ".attn_1"), prefix + ".block_2");
    }

    private Act resnetBlock(Act x, String prefix) {
        Act h = conv3x3(silu(norm(x, prefix + ".norm1")), prefix + ".conv1", 1, own(prefix, "h"));
        Act out = conv3x3(silu(norm(h, prefix + ".norm2")), prefix + ".conv2", 1, path(prefix));
        if (parameters.containsKey(prefix + ".nin_shortcut.weight")) {
            conv1x1Into(x, prefix + ".nin_shortcut", out, 1.0);
        } else {
            addResidual(out, x);
        }
        return out;
    }

    /**
     * Single-head self-attention over the H·W positions of each image, with 1×1 convolutions for q, k, v and the
     * output, added to the input: latent diffusion's AttnBlock.
     */
    private Act attention(Act x, String prefix) {
        int c = x.c;
        long t = (long) x.h * x.w;
        double scale = 1.0 / Math.sqrt(c);
        Act h = norm(x, prefix + ".norm");
        Act q = conv1x1(h, prefix + ".q", own(prefix, "q"));
        Act k = conv1x1(h, prefix + ".k", own(prefix, "k"));
        Act v = conv1x1(h, prefix + ".v", own(prefix, "v"));
        INDArray qRows = copy(q.value.reshape(c, n, t).permute(1, 2, 0), buf(own(prefix, "q_rows"), n, t, c));
        INDArray kCols = copy(k.value.reshape(c, n, t).permute(1, 0, 2), buf(own(prefix, "k_cols"), n, c, t));
        INDArray vCols = copy(v.value.reshape(c, n, t).permute(1, 0, 2), buf(own(prefix, "v_cols"), n, c, t));
        INDArray probs = buf(own(prefix, "probs"), n, t, t);
        Nd4j.matmul(qRows, kCols, probs, false, false, false);
        probs.muli(scale);
        Nd4j.exec(new SoftMax(probs, probs, 2));
        INDArray attendedCols = buf("attn.attended_cols", n, c, t);
        Nd4j.matmul(vCols, probs, attendedCols, false, true, false);
        Act attended = act(own(prefix, "attended"), c, x.h, x.w);
        copy(attendedCols.permute(1, 0, 2), attended.value.reshape(c, n, t));
        record(() -> {
            INDArray dAttended = copy(attended.grad().reshape(c, n, t).permute(1, 0, 2), buf("attn.d_attended", n, c, t));
            INDArray dv = buf("attn.d_v", n, c, t);
            Nd4j.matmul(dAttended, probs, dv, false, false, false);
            INDArray dProbs = buf("attn.d_probs", n, t, t);
            Nd4j.matmul(dAttended, vCols, dProbs, true, false, false);
            // softmax: dS = P ⊙ (dP − Σ_keys dP ⊙ P), then the score scale
            INDArray product = buf("attn.d_probs_product", n, t, t).assign(dProbs).muli(probs);
            INDArray rowSums = buf("attn.d_probs_rows", n * t, 1);
            Nd4j.gemm(product.reshape(n * t, t), onesColumn(t), rowSums, false, false, 1.0, 0.0);
            dProbs.reshape(n * t, t).subiColumnVector(rowSums);
            dProbs.muli(probs).muli(scale);
            INDArray dq = buf("attn.d_q", n, t, c), dk = buf("attn.d_k", n, c, t);
            Nd4j.matmul(dProbs, kCols, dq, false, true, false);
            Nd4j.matmul(qRows, dProbs, dk, true, false, false);
            q.addGrad(dq.permute(2, 0, 1));
            k.addGrad(dk.permute(1, 0, 2));
            v.addGrad(dv.permute(1, 0, 2));
        });
        Act out = conv1x1(attended, prefix + ".proj_out", path(prefix));
        addResidual(out, x);
        return out;
    }

    // ---------------------------------------------------------------- the posterior and the objective

    /** latents = mean + std·noise; its backward turns the latents' gradient into the moments', KL term included. */
    private Act sample(Act moments, Act noise, double klWeight) {
        int z = config.latentChannels();
        long m = moments.positions();
        INDArray mean = rows(moments.matrix(), 0, z), raw = rows(moments.matrix(), z, 2 * z);
        INDArray std = buf("std", z, m);
        posteriorStd(raw, std);
        Act latents = act("latents", z, moments.h, moments.w);
        latents.matrix().assign(noise.matrix()).muli(std).addi(mean);
        record(() -> {
            INDArray dLatents = latents.gradMatrix();
            INDArray dMoments = moments.gradMatrix();
            double perImage = klWeight / n;
            // KL = ½ Σ (mean² + var − 1 − logvar) per image, averaged: ∂/∂mean = mean, ∂/∂logvar = ½ (var − 1)
            rows(dMoments, 0, z).assign(mean).muli(perImage).addi(dLatents);
            INDArray dLogvar = rows(dMoments, z, 2 * z);
            dLogvar.assign(std).muli(std).subi(1.0).muli(0.5 * perImage)
                    .addi(buf("d_std_scratch", z, m).assign(dLatents).muli(noise.matrix()).muli(std).muli(0.5));
            // the clamp passes the gradient only where the raw log-variance lies inside it
            dLogvar.muli(raw.gte(VaeGraph.MIN_LOGVAR).castTo(type)).muli(raw.lte(VaeGraph.MAX_LOGVAR).castTo(type));
            moments.markGradWritten();
        });
        return latents;
    }

    /** std = exp(½ · clamp(logvar, −30, 20)) of the raw log-variance rows [z, N·h·w]. */
    private static void posteriorStd(INDArray rawLogvar, INDArray std) {
        std.assign(rawLogvar);
        Transforms.max(Transforms.min(std, VaeGraph.MAX_LOGVAR, false), VaeGraph.MIN_LOGVAR, false);
        Transforms.exp(std.muli(0.5), false);
    }

    /** Σ over each image of l1·|x − x̂| + l2·(x − x̂)², averaged over the batch. */
    private double reconstruction(Act x, Act decoded, VaeLoss.Weights weights) {
        INDArray error = buf("error", x.c, x.positions()).assign(x.matrix()).subi(decoded.matrix());
        double l1 = weights.l1() == 0 ? 0 : weights.l1() * error.norm1Number().doubleValue();
        double norm2 = weights.l2() == 0 ? 0 : error.norm2Number().doubleValue();
        record(() -> {
            INDArray d = decoded.gradMatrix();
            if (weights.l1() > 0) {
                Transforms.sign(d.assign(error), false).muli(-weights.l1() / n);
            } else {
                d.assign(0);
            }
            if (weights.l2() > 0) d.subi(buf("d_error_scratch", x.c, x.positions()).assign(error).muli(2 * weights.l2() / n));
            decoded.markGradWritten();
        });
        return (l1 + weights.l2() * norm2 * norm2) / n;
    }

    /** KL(q(z | x) ‖ N(0, I)) summed over each image, averaged over the batch (its gradient is in {@link #sample}). */
    private double divergence(Act moments) {
        int z = config.latentChannels();
        long m = moments.positions();
        INDArray mean = rows(moments.matrix(), 0, z);
        INDArray std = buf("std", z, m);
        INDArray logvar = buf("logvar", z, m).assign(rows(moments.matrix(), z, 2 * z));
        Transforms.max(Transforms.min(logvar, VaeGraph.MAX_LOGVAR, false), VaeGraph.MIN_LOGVAR, false);
        INDArray terms = buf("kl_terms", z, m).assign(mean).muli(mean).addi(std.mul(std)).subi(1.0).subi(logvar);
        return 0.5 * terms.sumNumber().doubleValue() / n;
    }

    // ---------------------------------------------------------------- layers, each recording its backward

    /** GroupNorm with the config's group count and eps 1e-6; keeps x̂ and 1/σ (per channel) for the backward. */
    private Act norm(Act x, String prefix) {
        int c = x.c;
        long hw = (long) x.h * x.w, cn = (long) c * n;
        INDArray weight = parameters.get(prefix + ".weight").reshape(c, 1), bias = parameters.get(prefix + ".bias").reshape(c, 1);
        INDArray rows = x.value.reshape(cn, hw);
        INDArray xhat = buf(own(prefix, "xhat"), cn, hw);
        INDArray stat = buf("gn.stat", c, n);
        groupMeans(rows, c, hw, stat);
        xhat.assign(rows).subiColumnVector(stat.reshape(cn, 1));
        Act y = act(own(prefix, "normed"), c, x.h, x.w);
        // the variance around the group mean (two passes, as PyTorch), squares in y's buffer before y is written
        INDArray rstd = buf(own(prefix, "rstd"), c, n);
        groupMeans(y.value.reshape(cn, hw).assign(xhat).muli(xhat), c, hw, rstd);
        Transforms.sqrt(rstd.addi(VaeConfig.NORM_EPS), false).rdivi(1.0);
        xhat.muliColumnVector(rstd.reshape(cn, 1));
        y.matrix().assign(xhat.reshape(c, n * hw)).muliColumnVector(weight).addiColumnVector(bias);
        record(() -> {
            INDArray dy = y.gradMatrix();
            INDArray scratch = buf("gn.d_scratch", cn, hw);
            Nd4j.gemm(scratch.reshape(c, n * hw).assign(dy).muli(xhat.reshape(c, n * hw)), onesColumn(n * hw),
                    gradients.get(prefix + ".weight").reshape(c, 1), false, false, 1.0, 0.0);
            Nd4j.gemm(dy, onesColumn(n * hw), gradients.get(prefix + ".bias").reshape(c, 1), false, false, 1.0, 0.0);
            INDArray dxhat = buf("gn.d_xhat", cn, hw);
            dxhat.reshape(c, n * hw).assign(dy).muliColumnVector(weight);
            // dx = (1/σ)·(dx̂ − mean_group(dx̂) − x̂·mean_group(dx̂·x̂))
            INDArray meanD = buf("gn.d_mean", c, n), meanDx = buf("gn.d_mean_x", c, n);
            groupMeans(dxhat, c, hw, meanD);
            groupMeans(scratch.assign(dxhat).muli(xhat), c, hw, meanDx);
            dxhat.subiColumnVector(meanD.reshape(cn, 1)).subi(scratch.assign(xhat).muliColumnVector(meanDx.reshape(cn, 1)))
                    .muliColumnVector(rstd.reshape(cn, 1));
            x.addGrad(dxhat.reshape(c, n, x.h, x.w));
        });
        return y;
    }

    /**
     * The mean over each (group, image) of rows [C·N, H·W] (channel-major), written for every channel of the group:
     * out [C, N]. Row sums, then a [C, groups] 0/1 matrix pools channels into groups and spreads them back.
     */
    private void groupMeans(INDArray rows, int c, long hw, INDArray out) {
        int groups = config.normGroups();
        INDArray sums = buf("gn.sums", c, n);
        Nd4j.gemm(rows, onesColumn(hw), sums.reshape((long) c * n, 1), false, false, 1.0, 0.0);
        INDArray groupMeans = buf("gn.groups", groups, n);
        Nd4j.gemm(channelGroups(c), sums, groupMeans, true, false, 1.0 / ((long) (c / groups) * hw), 0.0);
        Nd4j.gemm(channelGroups(c), groupMeans, out, false, false, 1.0, 0.0);
    }

    /** x·σ(x), keeping σ(x) for the backward. */
    private Act silu(Act x) {
        INDArray sigmoid = buf(own(x.key, "sigmoid"), x.c, n, x.h, x.w);
        Nd4j.exec(new Sigmoid(x.value, sigmoid));
        Act y = act(own(x.key, "silu"), x.c, x.h, x.w);
        y.value.assign(x.value).muli(sigmoid);
        record(() -> {
            // d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x)))
            INDArray d = buf("silu.d_scratch", x.c, n, x.h, x.w).assign(sigmoid).rsubi(1.0).muli(x.value).addi(1.0)
                    .muli(sigmoid).muli(y.grad());
            x.addGrad(d);
        });
        return y;
    }

    /**
     * A 3×3 convolution with padding 1. Nine GEMMs, one per tap (kh, kw), each multiplying the tap's [out, in]
     * weights with the zero-padded input shifted by (kh − 1, kw − 1): with the padded images laid end to end, a
     * shift is a column offset, so each shifted input is a view. Outputs at the padding positions are computed and
     * dropped. Stride 2 is latent diffusion's Downsample (pad right and bottom by one, 3×3, stride 2): the
     * stride-1 output at every second position from the second.
     */
    private Act conv3x3(Act x, String prefix, int stride, String outKey) {
        INDArray weight = parameters.get(prefix + ".weight");
        int out = (int) weight.size(0), in = x.c, h = x.h, w = x.w;
        INDArray tapWeights = taps.computeIfAbsent(prefix, k -> Nd4j.create(type, 9, out, in));
        copy(weight.permute(2, 3, 0, 1), tapWeights.reshape(3, 3, out, in));
        INDArray padded = buf(own(prefix, "padded_input"), in, n + 2, h + 2, w + 2);
        copy(x.value, interior(padded, 1, n, h, w));
        INDArray result = buf("conv.padded_output", out, n, h + 2, w + 2);
        INDArray resultRows = result.reshape(out, positionsPadded(h, w));
        for (int k = 0; k < 9; k++) {
            matmul(tapWeights.slice(k), shifted(padded, k, h, w), resultRows, false, false, k == 0 ? 0.0 : 1.0);
        }
        Act y = act(outKey, out, h / stride, w / stride);
        copy(stride == 1 ? interior(result, 0, n, h, w) : everySecond(result, n, h, w), y.value);
        y.matrix().addiColumnVector(parameters.get(prefix + ".bias").reshape(out, 1));
        record(() -> {
            INDArray dResult = buf(stride == 1 ? "conv.d_padded_output" : "conv.d_padded_output_s2", out, n, h + 2, w + 2);
            copy(y.grad(), stride == 1 ? interior(dResult, 0, n, h, w) : everySecond(dResult, n, h, w));
            INDArray dRows = dResult.reshape(out, positionsPadded(h, w));
            biasGradient(y, prefix);
            INDArray dTaps = buf("conv.d_taps", 9, out, in);
            for (int k = 0; k < 9; k++) matmul(dRows, shifted(padded, k, h, w), dTaps.slice(k), false, true, 0.0);
            copy(dTaps.reshape(3, 3, out, in), gradients.get(prefix + ".weight").permute(2, 3, 0, 1));
            if (x.needsGrad) {
                INDArray dPadded = buf("conv.d_padded_input", in, n + 2, h + 2, w + 2).assign(0);
                for (int k = 0; k < 9; k++) matmul(tapWeights.slice(k), dRows, shifted(dPadded, k, h, w), true, false, 1.0);
                x.addGrad(interior(dPadded, 1, n, h, w));
            }
        });
        return y;
    }

    /** Columns [in, N·(H+2)·(W+2)] of padded images [in, N+2, H+2, W+2] (a zero image either side), shifted by tap k. */
    private INDArray shifted(INDArray padded, int k, int h, int w) {
        long image = (long) (h + 2) * (w + 2);
        long from = image + (long) (k / 3 - 1) * (w + 2) + (k % 3 - 1);
        return padded.reshape(padded.size(0), (n + 2) * image).get(NDArrayIndex.all(), NDArrayIndex.interval(from, from + n * image));
    }

    private long positionsPadded(int h, int w) {
        return (long) n * (h + 2) * (w + 2);
    }

    private static INDArray interior(INDArray padded, int firstImage, int images, int h, int w) {
        return padded.get(NDArrayIndex.all(), NDArrayIndex.interval(firstImage, firstImage + images),
                NDArrayIndex.interval(1, h + 1), NDArrayIndex.interval(1, w + 1));
    }

    /** Padded positions (2i + 2, 2j + 2): where a stride-1 convolution reads what the stride-2 Downsample reads. */
    private static INDArray everySecond(INDArray padded, int images, int h, int w) {
        return padded.get(NDArrayIndex.all(), NDArrayIndex.interval(0, images), NDArrayIndex.interval(2, 2, h + 1),
                NDArrayIndex.interval(2, 2, w + 1));
    }

    private Act conv1x1(Act x, String prefix, String outKey) {
        Act y = act(outKey, (int) parameters.get(prefix + ".weight").size(0), x.h, x.w);
        conv1x1Into(x, prefix, y, 0.0);
        return y;
    }

    /** y = W·x + b + beta·y for a 1×1 convolution (beta 1: the nin_shortcut added to a block's output). */
    private void conv1x1Into(Act x, String prefix, Act y, double beta) {
        INDArray weight = parameters.get(prefix + ".weight").reshape(y.c, x.c);
        Nd4j.gemm(weight, x.matrix(), y.matrix(), false, false, 1.0, beta);
        y.matrix().addiColumnVector(parameters.get(prefix + ".bias").reshape(y.c, 1));
        record(() -> {
            INDArray dy = y.gradMatrix();
            Nd4j.gemm(dy, x.matrix(), gradients.get(prefix + ".weight").reshape(y.c, x.c), false, true, 1.0, 0.0);
            biasGradient(y, prefix);
            if (x.needsGrad) Nd4j.gemm(weight, dy, x.gradMatrix(), true, false, 1.0, x.gradBeta());
        });
    }

    private void biasGradient(Act y, String prefix) {
        Nd4j.gemm(y.gradMatrix(), onesColumn(y.positions()), gradients.get(prefix + ".bias").reshape(y.c, 1), false, false, 1.0, 0.0);
    }

    private void addResidual(Act out, Act x) {
        out.value.addi(x.value);
        record(() -> x.addGrad(out.grad()));
    }

    /** Nearest 2× upsampling: rows [C·N·H, W] times a 0/1 matrix [W, 4W] that repeats each pixel twice in both rows. */
    private Act upsample(Act x, String prefix) {
        Act y = act(path(prefix), x.c, 2 * x.h, 2 * x.w);
        long rows = (long) x.c * n * x.h;
        Nd4j.gemm(x.value.reshape(rows, x.w), nearest(x.w), y.value.reshape(rows, 4L * x.w), false, false, 1.0, 0.0);
        record(() -> Nd4j.gemm(y.grad().reshape(rows, 4L * x.w), nearest(x.w), x.grad().reshape(rows, x.w), false, true,
                1.0, x.gradBeta()));
        return y;
    }

    // ---------------------------------------------------------------- activations, buffers and constants

    /** An activation [C, N, H, W], channel-major, with its gradient buffer when the pass trains. */
    private final class Act {
        final String key;
        final int c, h, w;
        final INDArray value;
        final boolean needsGrad;
        private boolean gradWritten;

        Act(String key, int c, int h, int w, boolean needsGrad) {
            this.key = key;
            this.c = c;
            this.h = h;
            this.w = w;
            this.value = buf(key, c, n, h, w);
            this.needsGrad = needsGrad && training;
        }

        long positions() {
            return (long) n * h * w;
        }

        INDArray matrix() {
            return value.reshape(c, positions());
        }

        INDArray grad() {
            return buf("d." + key, c, n, h, w);
        }

        INDArray gradMatrix() {
            return grad().reshape(c, positions());
        }

        /** The beta of a product that adds into the gradient: 0 for its first writer in a backward pass, then 1. */
        double gradBeta() {
            double beta = gradWritten ? 1.0 : 0.0;
            gradWritten = true;
            return beta;
        }

        void markGradWritten() {
            gradWritten = true;
        }

        /** Adds g (any view of this activation's shape, or of [C, N, H·W]) to the gradient. */
        void addGrad(INDArray g) {
            INDArray target = grad().reshape(g.shape());
            if (gradWritten) {
                target.addi(g);
            } else {
                copy(g, target);
            }
            gradWritten = true;
        }
    }

    private Act act(String key, int c, int h, int w) {
        return new Act(key, c, h, w, true);
    }

    /** A batch-major input [N, C, H, W] copied channel-major; no gradient flows into it. */
    private Act channelMajor(INDArray batchMajor, String key) {
        Act a = new Act(key, (int) batchMajor.size(1), (int) batchMajor.size(2), (int) batchMajor.size(3), false);
        copy(batchMajor.castTo(type).permute(1, 0, 2, 3), a.value);
        return a;
    }

    /** A fresh batch-major copy [N, C, H, W] of channel-major values [C, N, H, W]. */
    private INDArray batchMajor(INDArray channelMajor) {
        INDArray out = Nd4j.create(type, channelMajor.size(1), channelMajor.size(0), channelMajor.size(2), channelMajor.size(3));
        return copy(channelMajor.permute(1, 0, 2, 3), out);
    }

    private static INDArray rows(INDArray matrix, long from, long to) {
        return matrix.get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
    }

    private void begin(long batch, boolean train) {
        if (batch != n) {
            ws = new HashMap<>(); // buffers of one batch size at a time: encoding meets many tail sizes
            n = Math.toIntExact(batch);
        }
        training = train;
        backwardReady = false;
        tape.clear();
        parity = false;
    }

    private void record(Runnable backwardStep) {
        if (training) tape.add(backwardStep);
    }

    /** The key of a buffer the backward reads: the layer's own while training, a shared scratch role otherwise. */
    private String own(String prefix, String role) {
        return training ? prefix + "." + role : role;
    }

    /** The key of a main-path output: the layer's own while training; otherwise one of two alternating buffers. */
    private String path(String prefix) {
        if (training) return prefix + ".out";
        parity = !parity;
        return parity ? "path.a" : "path.b";
    }

    /** The buffer of this batch size under a name and shape, allocated (zeroed) on first use. */
    private INDArray buf(String key, long... shape) {
        return ws.computeIfAbsent(key + Arrays.toString(shape), k -> Nd4j.create(type, shape));
    }

    private INDArray onesColumn(long length) {
        return constants.computeIfAbsent("ones" + length, k -> Nd4j.ones(type, length, 1));
    }

    /** [C, groups]: 1 where channel c belongs to the group (groups of C/groups consecutive channels). */
    private INDArray channelGroups(int c) {
        int groups = config.normGroups();
        return constants.computeIfAbsent("groups" + c, k -> Nd4j.eye(groups).castTo(type).reshape(groups, 1, groups)
                .broadcast(groups, c / groups, groups).reshape(c, groups).dup('c'));
    }

    /** [W, 4W]: row j has ones at columns 2j, 2j + 1 (the first output row) and 2W + 2j, 2W + 2j + 1 (the second). */
    private INDArray nearest(int w) {
        return constants.computeIfAbsent("nearest" + w, k -> {
            INDArray twice = Nd4j.eye(w).castTo(type).repeat(1, 2);
            return Nd4j.hstack(twice, twice).dup('c');
        });
    }

    /** Copies between arrays of one shape and any strides (ND4J's assign takes a slow path for strided views). */
    private static INDArray copy(INDArray from, INDArray to) {
        Nd4j.exec(new Identity(from, to));
        return to;
    }

    /** c = a·b + beta·c through libnd4j's matmul, which takes views with a leading dimension (Nd4j.gemm copies them). */
    private static void matmul(INDArray a, INDArray b, INDArray c, boolean transposeA, boolean transposeB, double beta) {
        Nd4j.exec(new Mmul(a, b, c, 1.0, beta, MMulTranspose.builder().transposeA(transposeA).transposeB(transposeB).build()));
    }

    static void requireBatch(String what, INDArray a, long channels, int divisor) {
        if (a.rank() != 4 || a.size(1) != channels || a.size(2) % divisor != 0 || a.size(3) % divisor != 0 || a.size(0) == 0) {
            throw new IllegalArgumentException(what + " have shape " + Arrays.toString(a.shape()) + "; expected [N, " + channels
                    + ", H, W] with N > 0" + (divisor > 1 ? " and H, W divisible by " + divisor : ""));
        }
    }
}
