package org.transcend.model.sit;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.SubOp;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Sigmoid;
import org.nd4j.linalg.factory.Broadcast;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.transcend.model.flow.Prediction;
import org.transcend.model.flow.VelocityModel;
import org.transcend.model.nn.PackedTensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The same network as {@link SiT#build}, forward and backward written out by hand on buffers allocated once per
 * batch size, because SameDiff spends most of a training step outside its matrix products.
 *
 * <p>Every Linear is one {@code Nd4j.gemm} on rows [N·T, in] into a preallocated output; attention is a batched
 * matmul per (sample, head); per-sample adaLN shifts, scales and gates are broadcasts along axes (0, 2) of
 * [N, T, D] views, and the per-token ones of RAE's DH head are element-wise on rows [N·T, D_h]; row means and bias
 * gradients are products with vectors of ones. The engine computes with the
 * {@link SiT}'s live tensors, so an optimiser step on them is seen by the next pass. It keeps state between
 * {@link #forward} and {@link #backward} and is not safe for concurrent use.
 */
public final class SiTEngine {

    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);
    private static final double GELU_CUBIC = 0.044715;

    /** The width, attention heads and MLP width of a run of blocks: the backbone's, or RAE's DH head's. */
    private record Width(int width, int heads, int mlpHidden) {}

    /**
     * What one forward pass produced, as views into the engine's buffers: valid until its next forward pass.
     *
     * @param c           conditioning c [N, D]
     * @param blocks      the residual stream after each computed block [N, sequence, D] (REG's global token, when there
     *                    is one, in row 0 of each sample)
     * @param out         the network output [N, C, H, W]; empty when the pass stopped before the last block
     * @param projections each projector head's output [N, T, outDim]; empty when heads were not computed
     * @param align       the align head's output [N, C, H, W], when there is one and heads were computed
     * @param sra         the SRA head's output [N, T, D], when there is one and heads were computed
     * @param global      REG's v̂_g [N, Dg] read from the global token, when there is one and the pass ran to the end
     */
    public record Outputs(INDArray c, List<INDArray> blocks, Optional<INDArray> out, List<INDArray> projections,
                          Optional<INDArray> align, Optional<INDArray> sra, Optional<INDArray> global) {

        /** The residual stream after block k (1-indexed). */
        public INDArray block(int k) {
            if (k < 1 || k > blocks.size()) {
                throw new IllegalArgumentException("block " + k + " was not computed; computed blocks are 1 to " + blocks.size());
            }
            return blocks.get(k - 1);
        }
    }

    private final SiT sit;
    private final SiTConfig config;
    private final DataType type;
    private final int d;
    /** Patch tokens T: what the final layer and the heads read. */
    private final int tokens;
    /** Tokens the blocks attend over: T, or T + 1 with REG's global token in front. */
    private final int seq;
    private final Width backbone;
    private final Width head;
    private final INDArray frequencies;
    /** The gradient buffers, laid out as {@link SiT#packTrainable} lays out the weights, so the flat buffers align. */
    private final PackedTensors packedGradients;
    private final Map<String, INDArray> gradients = new LinkedHashMap<>();
    private final Map<Long, INDArray> onesRows = new HashMap<>();
    private final Map<Long, Map<String, INDArray>> workspaces = new HashMap<>();

    /** Buffers of the current batch size, by name. */
    private Map<String, INDArray> ws;
    private int n;
    /** Whether the last forward pass kept every activation, ran the whole network and its heads (what backward needs). */
    private boolean backwardReady;
    private INDArray labels;

    public SiTEngine(SiT sit) {
        org.transcend.model.nn.DeferredDeallocation.install(); // ND4J frees buffers under running ops otherwise
        this.sit = sit;
        this.config = sit.config();
        this.type = sit.dataType();
        this.d = config.hidden();
        this.tokens = config.tokens();
        this.seq = config.sequence();
        this.backbone = new Width(d, config.heads(), config.mlpHidden());
        this.head = new Width(config.headWidth(), config.headHeads(), config.headMlpHidden());
        this.frequencies = SiT.timestepFrequencies(type);
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String name : sit.trainableNames()) shapes.put(name, sit.parameter(name).shape());
        this.packedGradients = PackedTensors.zeros(type, shapes);
        gradients.putAll(packedGradients.views());
    }

    public SiT model() {
        return sit;
    }

    /** The buffers {@link #backward} writes, as one flat buffer in {@link SiT#trainableNames} order. */
    public PackedTensors packedGradients() {
        return packedGradients;
    }

    /** The whole network with its heads, keeping what {@link #backward} needs. */
    public Outputs forward(INDArray x, INDArray t, INDArray y) {
        return forward(x, null, t, y, config.depth(), true, true);
    }

    /** As {@link #forward(INDArray, INDArray, INDArray)} with REG's noised global feature g_t [N, Dg]. */
    public Outputs forward(INDArray x, INDArray g, INDArray t, INDArray y) {
        return forward(x, g, t, y, config.depth(), true, true);
    }

    /** As {@link #forward(INDArray, INDArray, INDArray, INDArray, int, boolean, boolean)} for a network without a global token. */
    public Outputs forward(INDArray x, INDArray t, INDArray y, int lastBlock, boolean heads, boolean forBackward) {
        return forward(x, null, t, y, lastBlock, heads, forBackward);
    }

    /**
     * Runs the network on x [N, C, H, W], t [N] and one-hot labels y [N, numClasses + 1] (see {@link SiT#oneHot}),
     * through block {@code lastBlock} (the final layer only when it is the last block), with the heads when
     * {@code heads} is set. {@code g} is REG's noised global feature g_t [N, Dg], given exactly when the network has
     * the global token. With {@code forBackward} every activation is kept for {@link #backward}, which needs
     * the whole network and its heads; without it blocks share their scratch buffers (inference).
     */
    public Outputs forward(INDArray x, INDArray g, INDArray t, INDArray y, int lastBlock, boolean heads, boolean forBackward) {
        if (config.hasGlobalToken() != (g != null)) {
            throw new IllegalArgumentException(config.hasGlobalToken() ? "this SiT has REG's global token and needs g_t [N, "
                    + config.globalDim() + "]" : "this SiT has no global token; g_t is accepted only with one");
        }
        if (g != null && !Arrays.equals(g.shape(), new long[]{x.size(0), config.globalDim()})) {
            throw new IllegalArgumentException("g_t has shape " + Arrays.toString(g.shape()) + "; accepted: [" + x.size(0) + ", "
                    + config.globalDim() + "], one global feature per image of x");
        }
        if (lastBlock < 1 || lastBlock > config.depth()) {
            throw new IllegalArgumentException("lastBlock " + lastBlock + " lies outside 1 to depth " + config.depth());
        }
        long[] xShape = {x.size(0), config.inChannels(), config.inputSize(), config.inputSize()};
        if (!Arrays.equals(x.shape(), xShape) || t.length() != x.size(0)
                || !Arrays.equals(y.shape(), new long[]{x.size(0), config.labelRows()})) {
            throw new IllegalArgumentException("inputs x " + Arrays.toString(x.shape()) + ", t " + Arrays.toString(t.shape())
                    + ", y " + Arrays.toString(y.shape()) + " do not fit; accepted: x " + Arrays.toString(xShape)
                    + ", t [N], y [N, " + config.labelRows() + "]");
        }
        if (heads) {
            for (ProjectorHead h : sit.projectors()) needsBlock(lastBlock, "projector", h.block());
            sit.alignHead().ifPresent(h -> needsBlock(lastBlock, "align head", h.block()));
            sit.sraHead().ifPresent(h -> needsBlock(lastBlock, "SRA head", h.block()));
        }
        n = Math.toIntExact(x.size(0));
        ws = workspaces.computeIfAbsent((long) n, k -> new HashMap<>());
        backwardReady = forBackward && heads && lastBlock == config.depth();
        labels = buf("y", n, config.labelRows()).assign(y.castTo(type));
        long m = (long) n * tokens;

        INDArray patches = buf("patches", m, patchInputs());
        patches.reshape(n, config.grid(), config.grid(), config.inChannels(), config.patchSize(), config.patchSize())
                .assign(x.castTo(type).reshape(n, config.inChannels(), config.grid(), config.patchSize(), config.grid(), config.patchSize())
                        .permute(0, 2, 4, 1, 3, 5));
        INDArray embedded = buf(g == null ? "h0" : "patch_embedded", m, d);
        patchEmbed(patches, embedded);
        embedded.reshape(n, (long) tokens * d).addiRowVector(sit.parameter(SiT.POS_EMBED).reshape((long) tokens * d));
        INDArray h = g == null ? embedded : globalEmbed(g, embedded);

        INDArray c = conditioning(t.castTo(type).reshape(n, 1));
        INDArray siluC = buf("silu_c", n, d);
        silu(c, buf("sigmoid_c", n, d), siluC);

        List<INDArray> blocks = new ArrayList<>();
        for (int i = 0; i < lastBlock; i++) {
            INDArray next = buf("h" + (i + 1), (long) n * seq, d);
            block("blocks." + i + ".", backbone, h, siluC, next, forBackward ? "b" + i + "." : "b.");
            blocks.add(next.reshape(n, seq, d));
            h = next;
        }
        Optional<INDArray> out = Optional.empty();
        Optional<INDArray> global = Optional.empty();
        if (lastBlock == config.depth()) {
            out = Optional.of(config.hasHead() ? ddtHead(headInput(lastBlock), forBackward)
                    : finalLayer("final_layer.", "final.", headInput(lastBlock), siluC));
            if (g != null) global = Optional.of(globalOut(h));
        }
        List<INDArray> projections = new ArrayList<>();
        Optional<INDArray> align = Optional.empty();
        Optional<INDArray> sra = Optional.empty();
        if (heads) {
            if (sit.sraHead().isPresent()) {
                sra = Optional.of(sraForward());
            }
            for (int j = 0; j < sit.projectors().size(); j++) {
                ProjectorHead head = sit.projectors().get(j);
                INDArray z = mlp3Forward("projectors." + j + ".", headInput(head.block()), head.hiddenDim(), head.outDim());
                projections.add(z.reshape(n, tokens, head.outDim()));
            }
            if (sit.alignHead().isPresent()) {
                align = Optional.of(alignForward());
            }
        }
        return new Outputs(c, Collections.unmodifiableList(blocks), out, Collections.unmodifiableList(projections), align, sra, global);
    }

    /**
     * The network as a sampler's {@link VelocityModel}: LONG labels become one-hot rows and the output becomes
     * v̂ as {@code prediction} says. Each call returns a fresh array. With REG's global token the states are the packed
     * rows of {@link SiTConfig#samplerState} and so are the velocities, [v̂ | v̂_g]: the token is generated with the
     * image, from noise, under the same guidance (v̂_g is always a velocity).
     */
    public VelocityModel velocityModel(Prediction prediction) {
        if (!config.hasGlobalToken()) {
            return (x, t, classes) -> {
                INDArray out = forward(x, t, sit.oneHot(classes.toLongVector()), config.depth(), false, false).out().orElseThrow();
                return prediction == Prediction.VELOCITY ? out.dup() : prediction.velocity(out, x.castTo(type), t);
            };
        }
        return (state, t, classes) -> {
            INDArray x = latents(state), g = state.get(NDArrayIndex.all(), NDArrayIndex.interval(imageValues(), imageValues() + config.globalDim()));
            Outputs o = forward(x, g, t, sit.oneHot(classes.toLongVector()), config.depth(), false, false);
            INDArray out = o.out().orElseThrow();
            INDArray v = prediction == Prediction.VELOCITY ? out : prediction.velocity(out, x.castTo(type), t);
            return Nd4j.concat(1, v.reshape(x.size(0), imageValues()), o.global().orElseThrow());
        };
    }

    /** The latents [N, C, H, W] of sampler states: the states themselves, or the image part of REG's packed rows. */
    public INDArray latents(INDArray states) {
        if (!config.hasGlobalToken()) return states;
        return states.get(NDArrayIndex.all(), NDArrayIndex.interval(0, imageValues())).dup()
                .reshape(states.size(0), config.inChannels(), config.inputSize(), config.inputSize());
    }

    /** C·H·W, the values of one latent. */
    private long imageValues() {
        return (long) config.inChannels() * config.inputSize() * config.inputSize();
    }

    private static void needsBlock(int lastBlock, String head, int block) {
        if (block > lastBlock) {
            throw new IllegalArgumentException("the " + head + " reads block " + block + " but the pass stops at block "
                    + lastBlock + "; run without heads or further");
        }
    }

    /**
     * Gradients of a scalar loss with respect to every trainable tensor, given the loss's gradients with respect
     * to the last forward pass's outputs: the network output, projector head j's output (by head index) and the
     * align head's output, each optional (absent counts as zero). Returns the engine's gradient buffers under the
     * PyTorch names, overwritten by the next call.
     */
    public Map<String, INDArray> backward(Optional<INDArray> dOut, Map<Integer, INDArray> dProjections, Optional<INDArray> dAlign) {
        return backward(dOut, dProjections, dAlign, Optional.empty());
    }

    /** As {@link #backward(Optional, Map, Optional)}, with the loss's gradient with respect to the SRA head's output [N, T, D]. */
    public Map<String, INDArray> backward(Optional<INDArray> dOut, Map<Integer, INDArray> dProjections, Optional<INDArray> dAlign,
                                          Optional<INDArray> dSra) {
        return backward(dOut, dProjections, dAlign, dSra, Optional.empty());
    }

    /** As {@link #backward(Optional, Map, Optional, Optional)}, with the loss's gradient with respect to REG's v̂_g [N, Dg]. */
    public Map<String, INDArray> backward(Optional<INDArray> dOut, Map<Integer, INDArray> dProjections, Optional<INDArray> dAlign,
                                          Optional<INDArray> dSra, Optional<INDArray> dGlobal) {
        if (!backwardReady) {
            throw new IllegalStateException("backward needs a forward pass over the whole network with its heads and forBackward set");
        }
        long m = (long) n * tokens;
        INDArray siluC = buf("silu_c", n, d);
        INDArray dSiluC = buf("d_silu_c", n, d).assign(0);
        INDArray dh = buf("dh", (long) n * seq, d).assign(0);

        INDArray dPatches = headGradient(dh);
        if (dOut.isPresent() && config.hasHead()) {
            ddtHeadBackward(dOut.get(), dPatches);
        } else if (dOut.isPresent()) {
            finalLayerBackward("final_layer.", "final.", dOut.get(), siluC, dSiluC, dPatches);
        } else {
            zeroGradients("final_layer.");
            for (String prefix : List.of(SiT.S_PROJECTOR + ".", SiT.HEAD_EMBED + ".", SiT.HEAD_BLOCKS, SiT.HEAD_FINAL)) zeroGradients(prefix);
            buf("d_t_emb", n, d).assign(0);
        }
        if (config.hasGlobalToken()) {
            if (dGlobal.isPresent()) {
                globalOutBackward(dGlobal.get(), dh);
            } else {
                zeroGradients(SiT.GLOBAL_OUT + ".");
            }
        }
        addHeadGradient(dPatches, dh);
        for (int i = config.depth() - 1; i >= 0; i--) {
            int k = i + 1; // dh is now the gradient of the residual stream after block k
            dPatches = headGradient(dh);
            for (int j = 0; j < sit.projectors().size(); j++) {
                ProjectorHead head = sit.projectors().get(j);
                if (head.block() != k) continue;
                INDArray dz = dProjections.get(j);
                if (dz == null) {
                    zeroGradients("projectors." + j + ".");
                } else {
                    mlp3Backward("projectors." + j + ".", headInput(k), head.hiddenDim(), head.outDim(),
                            dz.castTo(type).reshape(m, head.outDim()), dPatches);
                }
            }
            if (sit.alignHead().isPresent() && sit.alignHead().get().block() == k) {
                if (dAlign.isPresent()) {
                    alignBackward(dAlign.get(), dPatches);
                } else {
                    zeroGradients("align_head.");
                }
            }
            if (sit.sraHead().isPresent() && sit.sraHead().get().block() == k) {
                if (dSra.isPresent()) {
                    sraBackward(dSra.get(), dPatches);
                } else {
                    zeroGradients("sra_head.");
                }
            }
            addHeadGradient(dPatches, dh);
            blockBackward("blocks." + i + ".", backbone, "b" + i + ".", siluC, dSiluC, dh);
        }
        patchEmbedBackward(config.hasGlobalToken() ? globalEmbedBackward(dh) : dh, buf("patches", m, patchInputs()));
        conditioningBackward(dSiluC);
        return gradients;
    }

    // ---------------------------------------------------------------- REG's global token

    /**
     * The rows [N·T, D] of block k's patch tokens, which the final layer and the heads read: the residual stream itself,
     * or with the global token a copy without its rows.
     */
    private INDArray headInput(int k) {
        INDArray stream = buf("h" + k, (long) n * seq, d);
        if (!config.hasGlobalToken()) return stream;
        INDArray rows = buf("patch_h" + k, (long) n * tokens, d);
        rows.reshape(n, tokens, d).assign(stream.reshape(n, seq, d).get(NDArrayIndex.all(), NDArrayIndex.interval(1, seq), NDArrayIndex.all()));
        return rows;
    }

    /** Where the heads' gradients of the patch rows go: dh itself, or with the global token a zeroed [N·T, D] buffer. */
    private INDArray headGradient(INDArray dh) {
        return config.hasGlobalToken() ? buf("d_patch_rows", (long) n * tokens, d).assign(0) : dh;
    }

    /** Adds the patch rows' gradients gathered by {@link #headGradient} into dh's patch tokens (nothing to do without the token). */
    private void addHeadGradient(INDArray dPatches, INDArray dh) {
        if (dPatches == dh) return;
        dh.reshape(n, seq, d).get(NDArrayIndex.all(), NDArrayIndex.interval(1, seq), NDArrayIndex.all()).addi(dPatches.reshape(n, tokens, d));
    }

    /** The stream [N·(T + 1), D]: per sample the embedded g_t (Linear Dg → D, no position embedding), then its patch tokens. */
    private INDArray globalEmbed(INDArray g, INDArray embedded) {
        INDArray gIn = buf("global.g", n, config.globalDim()).assign(g.castTo(type));
        INDArray token = buf("global.token", n, d);
        linear(gIn, sit.parameter(SiT.GLOBAL_EMBED + ".weight"), sit.parameter(SiT.GLOBAL_EMBED + ".bias"), token);
        INDArray h = buf("h0", (long) n * seq, d);
        INDArray h3 = h.reshape(n, seq, d);
        h3.get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all()).assign(token);
        h3.get(NDArrayIndex.all(), NDArrayIndex.interval(1, seq), NDArrayIndex.all()).assign(embedded.reshape(n, tokens, d));
        return h;
    }

    /** From dh of the stream [N·(T + 1), D]: the token embedding's gradients, and the patch rows' gradient [N·T, D] returned. */
    private INDArray globalEmbedBackward(INDArray dh) {
        INDArray dh3 = dh.reshape(n, seq, d);
        INDArray dToken = buf("d_global_token", n, d).assign(dh3.get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all()));
        linearBackward(dToken, buf("global.g", n, config.globalDim()), sit.parameter(SiT.GLOBAL_EMBED + ".weight"),
                gradients.get(SiT.GLOBAL_EMBED + ".weight"), gradients.get(SiT.GLOBAL_EMBED + ".bias"), null);
        INDArray dEmbedded = buf("d_patch_rows", (long) n * tokens, d);
        dEmbedded.reshape(n, tokens, d).assign(dh3.get(NDArrayIndex.all(), NDArrayIndex.interval(1, seq), NDArrayIndex.all()));
        return dEmbedded;
    }

    /** v̂_g [N, Dg]: the global token's last residual through LayerNorm (no affine) and Linear D → Dg. */
    private INDArray globalOut(INDArray h) {
        INDArray last = buf("global.last", n, d).assign(h.reshape(n, seq, d).get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all()));
        INDArray xhat = buf("global.xhat", n, d);
        layerNorm(last, xhat, buf("global.rstd", n, 1), SiT.BLOCK_NORM_EPS);
        INDArray out = buf("global.out", n, config.globalDim());
        linear(xhat, sit.parameter(SiT.GLOBAL_OUT + ".weight"), sit.parameter(SiT.GLOBAL_OUT + ".bias"), out);
        return out;
    }

    /** Adds the gradient through {@link #globalOut} to the global token's rows of dh. */
    private void globalOutBackward(INDArray dGlobal, INDArray dh) {
        INDArray xhat = buf("global.xhat", n, d);
        INDArray dxhat = buf("d_global_hat", n, d);
        linearBackward(dGlobal.castTo(type), xhat, sit.parameter(SiT.GLOBAL_OUT + ".weight"), gradients.get(SiT.GLOBAL_OUT + ".weight"),
                gradients.get(SiT.GLOBAL_OUT + ".bias"), dxhat);
        INDArray dLast = buf("d_global_last", n, d).assign(0);
        layerNormBackward(dxhat, xhat, buf("global.rstd", n, 1), dLast);
        dh.reshape(n, seq, d).get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all()).addi(dLast);
    }

    // ---------------------------------------------------------------- embeddings and conditioning

    private long patchInputs() {
        return (long) config.inChannels() * config.patchSize() * config.patchSize();
    }

    /** h = the patch embedding of the patch rows: one Linear, or JiT's two through the bottleneck d'. */
    private void patchEmbed(INDArray patches, INDArray h) {
        if (config.bottleneck() == 0) {
            linear(patches, patchWeight(sit::parameter), sit.parameter("x_embedder.proj.bias"), h);
            return;
        }
        INDArray low = buf("patch_low", patches.size(0), config.bottleneck());
        Nd4j.gemm(patches, bottleneckIn(sit::parameter), low, false, true, 1.0, 0.0);
        linear(low, bottleneckOut(sit::parameter), sit.parameter("x_embedder.proj2.bias"), h);
    }

    private void patchEmbedBackward(INDArray dh, INDArray patches) {
        if (config.bottleneck() == 0) {
            linearBackward(dh, patches, patchWeight(sit::parameter), patchWeight(gradients::get), gradients.get("x_embedder.proj.bias"), null);
            return;
        }
        INDArray low = buf("patch_low", patches.size(0), config.bottleneck());
        INDArray dLow = buf("d_patch_low", patches.size(0), config.bottleneck());
        linearBackward(dh, low, bottleneckOut(sit::parameter), bottleneckOut(gradients::get), gradients.get("x_embedder.proj2.bias"), dLow);
        Nd4j.gemm(dLow, patches, bottleneckIn(gradients::get), true, false, 1.0, 0.0);
    }

    /** JiT's first conv [d', C, p, p] as a Linear weight [d', C·p·p]. */
    private INDArray bottleneckIn(java.util.function.Function<String, INDArray> tensors) {
        return tensors.apply(SiT.BOTTLENECK_IN).reshape(config.bottleneck(), patchInputs());
    }

    /** JiT's 1x1 conv [D, d', 1, 1] as a Linear weight [D, d']. */
    private INDArray bottleneckOut(java.util.function.Function<String, INDArray> tensors) {
        return tensors.apply(SiT.BOTTLENECK_OUT).reshape(d, config.bottleneck());
    }

    /** The patch-embedding conv weight [D, C, p, p] seen as a Linear weight [D, C·p·p]. */
    private INDArray patchWeight(java.util.function.Function<String, INDArray> tensors) {
        return tensors.apply("x_embedder.proj.weight").reshape(d, patchInputs());
    }

    /** c = MLP(sin-cos(t)) + y·table, keeping the timestep MLP's activations. */
    private INDArray conditioning(INDArray t) {
        int half = SiT.FREQUENCY_EMBEDDING / 2;
        INDArray args = buf("t_args", n, half);
        Nd4j.gemm(t, frequencies, args, false, false, 1.0, 0.0);
        INDArray freq = buf("t_freq", n, SiT.FREQUENCY_EMBEDDING);
        freq.get(NDArrayIndex.all(), NDArrayIndex.interval(0, half)).assign(Transforms.cos(args, true));
        freq.get(NDArrayIndex.all(), NDArrayIndex.interval(half, 2 * half)).assign(Transforms.sin(args, true));
        INDArray pre = buf("t_pre", n, d);
        linear(freq, sit.parameter("t_embedder.mlp.0.weight"), sit.parameter("t_embedder.mlp.0.bias"), pre);
        INDArray hidden = buf("t_hidden", n, d);
        silu(pre, buf("t_sigmoid", n, d), hidden);
        INDArray tEmbedding = buf("t_emb", n, d); // kept apart from c: RAE's DH head reads t alone
        linear(hidden, sit.parameter("t_embedder.mlp.2.weight"), sit.parameter("t_embedder.mlp.2.bias"), tEmbedding);
        INDArray c = buf("c", n, d).assign(tEmbedding);
        Nd4j.gemm(labels, sit.parameter("y_embedder.embedding_table.weight"), c, false, false, 1.0, 1.0);
        return c;
    }

    private void conditioningBackward(INDArray dSiluC) {
        INDArray dc = buf("d_c", n, d).assign(dSiluC);
        siluBackward(dc, buf("silu_c", n, d), buf("sigmoid_c", n, d), buf("d_scratch_nd", n, d));
        Nd4j.gemm(labels, dc, gradients.get("y_embedder.embedding_table.weight"), true, false, 1.0, 0.0);
        if (config.hasHead()) {
            dc.addi(buf("d_t_emb", n, d)); // the timestep embedding's gradient: through c, and through the DH head's condition
        }
        INDArray dHidden = buf("d_t_hidden", n, d);
        linearBackward(dc, buf("t_hidden", n, d), sit.parameter("t_embedder.mlp.2.weight"),
                gradients.get("t_embedder.mlp.2.weight"), gradients.get("t_embedder.mlp.2.bias"), dHidden);
        siluBackward(dHidden, buf("t_hidden", n, d), buf("t_sigmoid", n, d), buf("d_scratch_nd", n, d));
        linearBackward(dHidden, buf("t_freq", n, SiT.FREQUENCY_EMBEDDING), sit.parameter("t_embedder.mlp.0.weight"),
                gradients.get("t_embedder.mlp.0.weight"), gradients.get("t_embedder.mlp.0.bias"), null);
    }

    // ---------------------------------------------------------------- blocks

    /**
     * The adaLN chunks of a modulation Linear on the SiLU-ed condition {@code cond}: chunk j uses rows j·W to (j+1)·W of the
     * weight. The condition is per sample [N, W] (the backbone's c) or per token [N·T, W] (the DH head's s), and so are
     * the chunks.
     */
    private void modulation(String prefix, INDArray cond, INDArray[] chunks) {
        INDArray w = sit.parameter(prefix + "adaLN_modulation.1.weight");
        INDArray b = sit.parameter(prefix + "adaLN_modulation.1.bias");
        long width = chunks[0].size(1);
        for (int j = 0; j < chunks.length; j++) {
            linear(cond, rows(w, j, width), b.get(NDArrayIndex.interval(j * width, (j + 1) * width)), chunks[j]);
        }
    }

    private void modulationBackward(String prefix, INDArray cond, INDArray[] dChunks, INDArray dCond) {
        INDArray w = sit.parameter(prefix + "adaLN_modulation.1.weight");
        INDArray dw = gradients.get(prefix + "adaLN_modulation.1.weight");
        INDArray db = gradients.get(prefix + "adaLN_modulation.1.bias");
        long width = dChunks[0].size(1);
        for (int j = 0; j < dChunks.length; j++) {
            Nd4j.gemm(dChunks[j], cond, rows(dw, j, width), true, false, 1.0, 0.0);
            Nd4j.gemm(ones(cond.size(0)), dChunks[j], db.reshape(dChunks.length, width).get(NDArrayIndex.interval(j, j + 1), NDArrayIndex.all()),
                    false, false, 1.0, 0.0);
            Nd4j.gemm(dChunks[j], rows(w, j, width), dCond, false, false, 1.0, 1.0);
        }
    }

    private static INDArray rows(INDArray w, int chunk, long width) {
        return w.get(NDArrayIndex.interval(chunk * width, (chunk + 1) * width), NDArrayIndex.all());
    }

    /** {@code count} modulation chunks [rows, width] under a key: rows N (per sample) or N·T (per token). */
    private INDArray[] chunks(String key, int count, long rows, long width) {
        INDArray[] c = new INDArray[count];
        for (int j = 0; j < count; j++) c[j] = buf(key + j, rows, width);
        return c;
    }

    /**
     * One SiT block of the given width on rows h [N·L, W] into next, modulated by the SiLU-ed condition {@code cond}: the
     * backbone's blocks (W = D, L = sequence, cond per sample) or the DH head's (W = D_h, L = T, cond per token).
     */
    private void block(String prefix, Width w, INDArray h, INDArray cond, INDArray next, String key) {
        long m = h.size(0), r = cond.size(0);
        int width = w.width(), f = w.mlpHidden();
        INDArray[] mod = chunks(key + "mod", 6, r, width); // shift, scale, gate for attention, then for the MLP

        modulation(prefix, cond, mod);
        INDArray xhat1 = buf(key + "xhat1", m, width);
        layerNorm(h, xhat1, buf(key + "rstd1", m, 1), SiT.BLOCK_NORM_EPS);
        INDArray a1 = buf(key + "a1", m, width);
        modulate(xhat1, mod[0], onePlus(mod[1], buf(key + "scale1", r, width)), a1);
        INDArray proj = buf(key + "proj", m, width);
        attention(prefix, key, a1, proj, w.heads());
        INDArray mid = buf(key + "mid", m, width);
        gate(h, mod[2], proj, mid);

        INDArray xhat2 = buf(key + "xhat2", m, width);
        layerNorm(mid, xhat2, buf(key + "rstd2", m, 1), SiT.BLOCK_NORM_EPS);
        INDArray a2 = buf(key + "a2", m, width);
        modulate(xhat2, mod[3], onePlus(mod[4], buf(key + "scale2", r, width)), a2);
        INDArray f1 = buf(key + "fc1", m, f);
        linear(a2, sit.parameter(prefix + "mlp.fc1.weight"), sit.parameter(prefix + "mlp.fc1.bias"), f1);
        INDArray sig = buf(key + "gelu_sigmoid", m, f);
        INDArray g = buf(key + "gelu", m, f);
        geluTanh(f1, sig, g);
        INDArray f2 = buf(key + "fc2", m, width);
        linear(g, sit.parameter(prefix + "mlp.fc2.weight"), sit.parameter(prefix + "mlp.fc2.bias"), f2);
        gate(mid, mod[5], f2, next);
    }

    /** dh holds the gradient of the block's output on entry and of its input on exit; dCond gathers the condition's. */
    private void blockBackward(String prefix, Width w, String key, INDArray cond, INDArray dCond, INDArray dh) {
        long m = dh.size(0), r = cond.size(0);
        int width = w.width(), f = w.mlpHidden();
        INDArray[] mod = chunks(key + "mod", 6, r, width);
        INDArray[] dMod = chunks("d_mod", 6, r, width);

        // MLP branch: next = mid + gate·fc2(gelu(fc1(a2)))
        INDArray dBranch = buf("d_branch", m, width);
        gateBackward(dh, mod[5], buf(key + "fc2", m, width), dMod[5], dBranch);
        INDArray dg = buf("d_gelu", m, f);
        linearBackward(dBranch, buf(key + "gelu", m, f), sit.parameter(prefix + "mlp.fc2.weight"),
                gradients.get(prefix + "mlp.fc2.weight"), gradients.get(prefix + "mlp.fc2.bias"), dg);
        geluTanhBackward(dg, buf(key + "fc1", m, f), buf(key + "gelu", m, f), buf(key + "gelu_sigmoid", m, f),
                buf("d_scratch_mf", m, f), buf("d_scratch_mf_b", m, f));
        INDArray da = buf("d_a", m, width);
        linearBackward(dg, buf(key + "a2", m, width), sit.parameter(prefix + "mlp.fc1.weight"),
                gradients.get(prefix + "mlp.fc1.weight"), gradients.get(prefix + "mlp.fc1.bias"), da);
        INDArray xhat2 = buf(key + "xhat2", m, width);
        modulateBackward(da, xhat2, buf(key + "scale2", r, width), dMod[3], dMod[4]);
        layerNormBackward(da, xhat2, buf(key + "rstd2", m, 1), dh);

        // attention branch: mid = h + gate·proj(attention(a1))
        gateBackward(dh, mod[2], buf(key + "proj", m, width), dMod[2], dBranch);
        attentionBackward(prefix, key, dBranch, da, w.heads());
        INDArray xhat1 = buf(key + "xhat1", m, width);
        modulateBackward(da, xhat1, buf(key + "scale1", r, width), dMod[0], dMod[1]);
        layerNormBackward(da, xhat1, buf(key + "rstd1", m, 1), dh);

        modulationBackward(prefix, cond, dMod, dCond);
    }

    // ---------------------------------------------------------------- attention

    /** timm's attention on rows a [N·L, W] with {@code heads} heads of W / heads values, into out [N·L, W]. */
    private void attention(String prefix, String key, INDArray a, INDArray out, int heads) {
        long m = a.size(0), seq = m / n;
        int d = (int) a.size(1), hd = d / heads;
        long batches = (long) n * heads;
        INDArray qkv = buf("qkv", m, 3L * d);
        linear(a, sit.parameter(prefix + "attn.qkv.weight"), sit.parameter(prefix + "attn.qkv.bias"), qkv);
        INDArray split = buf(key + "qkv_heads", 3, batches, seq, hd);
        split.reshape(3, n, heads, seq, hd).assign(qkv.reshape(n, seq, 3, heads, hd).permute(2, 0, 3, 1, 4));
        INDArray q = split.get(NDArrayIndex.point(0)), k = split.get(NDArrayIndex.point(1)), v = split.get(NDArrayIndex.point(2));
        if (config.qkNorm()) {
            long r = batches * seq;
            INDArray rows = split.reshape(3 * r, hd);
            qkNorm(prefix + "attn.q_norm.", rows.get(NDArrayIndex.interval(0, r), NDArrayIndex.all()),
                    buf(key + "q_hat", r, hd), buf(key + "q_rstd", r, 1));
            qkNorm(prefix + "attn.k_norm.", rows.get(NDArrayIndex.interval(r, 2 * r), NDArrayIndex.all()),
                    buf(key + "k_hat", r, hd), buf(key + "k_rstd", r, 1));
        }
        INDArray p = buf(key + "probs", batches, seq, seq);
        Nd4j.matmul(q, k, p, false, true, false);
        p.muli(Math.pow(hd, -0.5));
        Nd4j.exec(new SoftMax(p, p, 2));
        INDArray o = buf("attn_out", batches, seq, hd);
        Nd4j.matmul(p, v, o, false, false, false);
        INDArray merged = buf(key + "attn_merged", m, d);
        merged.reshape(n, seq, heads, hd).assign(o.reshape(n, heads, seq, hd).permute(0, 2, 1, 3));
        linear(merged, sit.parameter(prefix + "attn.proj.weight"), sit.parameter(prefix + "attn.proj.bias"), out);
    }

    /** dOut [N·L, W] is the gradient of the attention output; dA receives the gradient of its input. */
    private void attentionBackward(String prefix, String key, INDArray dOut, INDArray dA, int heads) {
        long m = dOut.size(0), seq = m / n;
        int d = (int) dOut.size(1), hd = d / heads;
        long batches = (long) n * heads;
        INDArray dMerged = buf("d_merged", m, d);
        linearBackward(dOut, buf(key + "attn_merged", m, d), sit.parameter(prefix + "attn.proj.weight"),
                gradients.get(prefix + "attn.proj.weight"), gradients.get(prefix + "attn.proj.bias"), dMerged);
        INDArray dO = buf("d_attn_out", batches, seq, hd);
        dO.reshape(n, heads, seq, hd).assign(dMerged.reshape(n, seq, heads, hd).permute(0, 2, 1, 3));
        INDArray split = buf(key + "qkv_heads", 3, batches, seq, hd);
        INDArray q = split.get(NDArrayIndex.point(0)), k = split.get(NDArrayIndex.point(1)), v = split.get(NDArrayIndex.point(2));
        INDArray dSplit = buf("d_qkv_heads", 3, batches, seq, hd);
        INDArray dq = dSplit.get(NDArrayIndex.point(0)), dk = dSplit.get(NDArrayIndex.point(1)), dv = dSplit.get(NDArrayIndex.point(2));
        INDArray p = buf(key + "probs", batches, seq, seq);
        Nd4j.matmul(p, dO, dv, true, false, false);
        INDArray dp = buf("d_probs", batches, seq, seq);
        Nd4j.matmul(dO, v, dp, false, true, false);
        // softmax: dS = P ⊙ (dP − Σ_keys dP ⊙ P), then the score scale
        INDArray prod = buf("d_probs_scratch", batches, seq, seq).assign(dp).muli(p);
        INDArray rowSums = buf("d_probs_rows", batches * seq, 1);
        Nd4j.gemm(prod.reshape(batches * seq, seq), onesColumn(seq), rowSums, false, false, 1.0, 0.0);
        dp.reshape(batches * seq, seq).subiColumnVector(rowSums);
        dp.muli(p).muli(Math.pow(hd, -0.5));
        Nd4j.matmul(dp, k, dq, false, false, false);
        Nd4j.matmul(dp, q, dk, true, false, false);
        if (config.qkNorm()) {
            long r = batches * seq;
            INDArray rows = dSplit.reshape(3 * r, hd);
            qkNormBackward(prefix + "attn.q_norm.", rows.get(NDArrayIndex.interval(0, r), NDArrayIndex.all()),
                    buf(key + "q_hat", r, hd), buf(key + "q_rstd", r, 1));
            qkNormBackward(prefix + "attn.k_norm.", rows.get(NDArrayIndex.interval(r, 2 * r), NDArrayIndex.all()),
                    buf(key + "k_hat", r, hd), buf(key + "k_rstd", r, 1));
        }
        INDArray dqkv = buf("d_qkv", m, 3L * d);
        dqkv.reshape(n, seq, 3, heads, hd).assign(dSplit.reshape(3, n, heads, seq, hd).permute(1, 3, 0, 2, 4));
        linearBackward(dqkv, buf(key + "a1", m, d), sit.parameter(prefix + "attn.qkv.weight"),
                gradients.get(prefix + "attn.qkv.weight"), gradients.get(prefix + "attn.qkv.bias"), dA);
    }

    /** timm's QK-norm in place on the heads' query or key rows [N·H·T, hd]: LayerNorm over hd with weight and bias. */
    private void qkNorm(String prefix, INDArray rows, INDArray xhat, INDArray rstd) {
        layerNorm(rows, xhat, rstd, SiT.QK_NORM_EPS);
        rows.assign(xhat).muliRowVector(sit.parameter(prefix + "weight")).addiRowVector(sit.parameter(prefix + "bias"));
    }

    /** rows hold the gradient of the normalised output on entry and of the raw input on exit. */
    private void qkNormBackward(String prefix, INDArray rows, INDArray xhat, INDArray rstd) {
        long r = xhat.size(0);
        INDArray scratch = buf("d_qk_scratch", r, xhat.size(1));
        Nd4j.gemm(ones(r), scratch.assign(rows).muli(xhat), gradients.get(prefix + "weight").reshape(1, xhat.size(1)), false, false, 1.0, 0.0);
        Nd4j.gemm(ones(r), rows, gradients.get(prefix + "bias").reshape(1, xhat.size(1)), false, false, 1.0, 0.0);
        INDArray dxhat = buf("d_qk_hat", r, xhat.size(1)).assign(rows).muliRowVector(sit.parameter(prefix + "weight"));
        rows.assign(0);
        layerNormBackward(dxhat, xhat, rstd, rows);
    }

    // ---------------------------------------------------------------- final layer and heads

    /**
     * The final layer (LayerNorm, modulate, Linear W → p²·C, unpatchify) on the patch rows h [N·T, W]: the backbone's
     * ({@code final_layer.}, modulated per sample by SiLU(c)) or the DH head's ({@code head_final_layer.}, per token by
     * SiLU(s)).
     */
    private INDArray finalLayer(String prefix, String key, INDArray h, INDArray cond) {
        long m = h.size(0), r = cond.size(0), w = h.size(1);
        INDArray[] mod = chunks(key + "mod", 2, r, w); // shift, scale
        modulation(prefix, cond, mod);
        INDArray xhat = buf(key + "xhat", m, w);
        layerNorm(h, xhat, buf(key + "rstd", m, 1), SiT.BLOCK_NORM_EPS);
        INDArray a = buf(key + "a", m, w);
        modulate(xhat, mod[0], onePlus(mod[1], buf(key + "scale", r, w)), a);
        INDArray patchesOut = buf(key + "patches", m, config.patchValues());
        linear(a, sit.parameter(prefix + "linear.weight"), sit.parameter(prefix + "linear.bias"), patchesOut);
        return unpatchify(patchesOut, buf("out", n, config.inChannels(), config.inputSize(), config.inputSize()));
    }

    /** Adds the gradient of the final layer's input rows to dh and of its condition to dCond. */
    private void finalLayerBackward(String prefix, String key, INDArray dOut, INDArray cond, INDArray dCond, INDArray dh) {
        long m = dh.size(0), r = cond.size(0), w = dh.size(1);
        INDArray dPatches = patchifyGradient(dOut, buf("d_final_patches", m, config.patchValues()));
        INDArray da = buf("d_a", m, w);
        linearBackward(dPatches, buf(key + "a", m, w), sit.parameter(prefix + "linear.weight"),
                gradients.get(prefix + "linear.weight"), gradients.get(prefix + "linear.bias"), da);
        INDArray[] dMod = chunks("d_mod", 2, r, w);
        INDArray xhat = buf(key + "xhat", m, w);
        modulateBackward(da, xhat, buf(key + "scale", r, w), dMod[0], dMod[1]);
        layerNormBackward(da, xhat, buf(key + "rstd", m, 1), dh);
        modulationBackward(prefix, cond, dMod, dCond);
    }

    /**
     * RAE's DH head on the backbone's last patch rows z [N·T, D] (the structure and what it follows: {@link SiT}): the
     * condition s = s_projector(SiLU(z + t)) per token, x_t embedded again at D_h, the head's blocks and final layer
     * modulated by SiLU(s) per token. Returns the output [N, C, H, W].
     */
    private INDArray ddtHead(INDArray z, boolean forBackward) {
        long m = (long) n * tokens;
        int w = head.width();
        INDArray u = buf("head.u", m, d);
        Broadcast.add(z.reshape(n, tokens, d), buf("t_emb", n, d), u.reshape(n, tokens, d), 0, 2);
        silu(u, buf("head.u_sigmoid", m, d), u);
        INDArray s = buf("head.s", m, w);
        linear(u, sit.parameter(SiT.S_PROJECTOR + ".weight"), sit.parameter(SiT.S_PROJECTOR + ".bias"), s);
        INDArray siluS = buf("head.silu_s", m, w);
        silu(s, buf("head.s_sigmoid", m, w), siluS);

        INDArray x = buf("head.x0", m, w);
        linear(buf("patches", m, patchInputs()), headEmbedWeight(sit::parameter), sit.parameter(SiT.HEAD_EMBED + ".bias"), x);
        x.reshape(n, (long) tokens * w).addiRowVector(sit.parameter(SiT.HEAD_POS_EMBED).reshape((long) tokens * w));
        for (int i = 0; i < config.headDepth(); i++) {
            INDArray next = buf("head.x" + (i + 1), m, w);
            block(SiT.HEAD_BLOCKS + i + ".", head, x, siluS, next, forBackward ? "hb" + i + "." : "hb.");
            x = next;
        }
        return finalLayer(SiT.HEAD_FINAL, "head_final.", x, siluS);
    }

    /** The head's gradients from the output's; adds z's gradient to dz and writes t's (summed over tokens) to d_t_emb. */
    private void ddtHeadBackward(INDArray dOut, INDArray dz) {
        long m = (long) n * tokens;
        int w = head.width();
        INDArray siluS = buf("head.silu_s", m, w);
        INDArray dSiluS = buf("d_head_silu_s", m, w).assign(0);
        INDArray dx = buf("d_head_x", m, w).assign(0);
        finalLayerBackward(SiT.HEAD_FINAL, "head_final.", dOut, siluS, dSiluS, dx);
        for (int i = config.headDepth() - 1; i >= 0; i--) {
            blockBackward(SiT.HEAD_BLOCKS + i + ".", head, "hb" + i + ".", siluS, dSiluS, dx);
        }
        linearBackward(dx, buf("patches", m, patchInputs()), headEmbedWeight(sit::parameter), headEmbedWeight(gradients::get),
                gradients.get(SiT.HEAD_EMBED + ".bias"), null);

        siluBackward(dSiluS, siluS, buf("head.s_sigmoid", m, w), buf("d_head_scratch", m, w)); // now the gradient of s
        INDArray u = buf("head.u", m, d);
        INDArray du = buf("d_head_u", m, d);
        linearBackward(dSiluS, u, sit.parameter(SiT.S_PROJECTOR + ".weight"), gradients.get(SiT.S_PROJECTOR + ".weight"),
                gradients.get(SiT.S_PROJECTOR + ".bias"), du);
        siluBackward(du, u, buf("head.u_sigmoid", m, d), buf("d_head_scratch", m, d)); // now the gradient of z + t
        dz.addi(du);
        du.reshape(n, tokens, d).sum(buf("d_t_emb", n, d), 1);
    }

    /** The DH head's patch-embedding conv weight [D_h, C, p, p] seen as a Linear weight [D_h, C·p·p]. */
    private INDArray headEmbedWeight(java.util.function.Function<String, INDArray> tensors) {
        return tensors.apply(SiT.HEAD_EMBED + ".weight").reshape(head.width(), patchInputs());
    }

    /** The reference's unpatchify: rows [N·T, p·p·C] with (i, j, c) order inside a patch → out [N, C, H, W]. */
    private INDArray unpatchify(INDArray rows, INDArray out) {
        int g = config.grid(), p = config.patchSize(), ch = config.inChannels();
        out.reshape(n, ch, g, p, g, p).assign(rows.reshape(n, g, g, p, p, ch).permute(0, 5, 1, 3, 2, 4));
        return out;
    }

    /** The inverse of {@link #unpatchify}, for gradients. */
    private INDArray patchifyGradient(INDArray image, INDArray rows) {
        int g = config.grid(), p = config.patchSize(), ch = config.inChannels();
        rows.reshape(n, g, g, p, p, ch).assign(image.castTo(type).reshape(n, ch, g, p, g, p).permute(0, 2, 4, 3, 5, 1));
        return rows;
    }

    /** REPA's build_mlp on rows: Linear → SiLU → Linear → SiLU → Linear, parameters {prefix}{0,2,4}. */
    private INDArray mlp3Forward(String prefix, INDArray rows, int hidden, int outDim) {
        long m = rows.size(0);
        INDArray act1 = buf(prefix + "act0", m, hidden);
        linear(rows, sit.parameter(prefix + "0.weight"), sit.parameter(prefix + "0.bias"), act1);
        silu(act1, buf(prefix + "sig0", m, hidden), act1);
        INDArray act2 = buf(prefix + "act2", m, hidden);
        linear(act1, sit.parameter(prefix + "2.weight"), sit.parameter(prefix + "2.bias"), act2);
        silu(act2, buf(prefix + "sig2", m, hidden), act2);
        INDArray out = buf(prefix + "out", m, outDim);
        linear(act2, sit.parameter(prefix + "4.weight"), sit.parameter(prefix + "4.bias"), out);
        return out;
    }

    /** Adds the gradient with respect to {@code rows} to {@code dRows}. */
    private void mlp3Backward(String prefix, INDArray rows, int hidden, int outDim, INDArray dOut, INDArray dRows) {
        long m = rows.size(0);
        INDArray d2 = buf("d_head_hidden", m, hidden), d1 = buf("d_head_hidden_b", m, hidden);
        INDArray scratch = buf("d_head_scratch", m, hidden);
        linearBackward(dOut, buf(prefix + "act2", m, hidden), sit.parameter(prefix + "4.weight"),
                gradients.get(prefix + "4.weight"), gradients.get(prefix + "4.bias"), d2);
        siluBackward(d2, buf(prefix + "act2", m, hidden), buf(prefix + "sig2", m, hidden), scratch);
        linearBackward(d2, buf(prefix + "act0", m, hidden), sit.parameter(prefix + "2.weight"),
                gradients.get(prefix + "2.weight"), gradients.get(prefix + "2.bias"), d1);
        siluBackward(d1, buf(prefix + "act0", m, hidden), buf(prefix + "sig0", m, hidden), scratch);
        INDArray dIn = buf("d_head_in", m, d);
        linearBackward(d1, rows, sit.parameter(prefix + "0.weight"), gradients.get(prefix + "0.weight"),
                gradients.get(prefix + "0.bias"), dIn);
        dRows.addi(dIn);
    }

    private INDArray alignForward() {
        AlignHead head = sit.alignHead().orElseThrow();
        long m = (long) n * tokens;
        INDArray z = mlp3Forward("align_head.", headInput(head.block()), head.hiddenDim(), d);
        INDArray xhat = buf("align.xhat", m, d);
        layerNorm(z, xhat, buf("align.rstd", m, 1), SiT.BLOCK_NORM_EPS);
        INDArray patchesOut = buf("align.patches", m, config.patchValues());
        linear(xhat, sit.parameter("align_head.out.weight"), sit.parameter("align_head.out.bias"), patchesOut);
        return unpatchify(patchesOut, buf("align", n, config.inChannels(), config.inputSize(), config.inputSize()));
    }

    private void alignBackward(INDArray dAlign, INDArray dh) {
        AlignHead head = sit.alignHead().orElseThrow();
        long m = (long) n * tokens;
        INDArray dPatches = patchifyGradient(dAlign, buf("d_align_patches", m, config.patchValues()));
        INDArray dxhat = buf("d_align_hat", m, d);
        INDArray xhat = buf("align.xhat", m, d);
        linearBackward(dPatches, xhat, sit.parameter("align_head.out.weight"), gradients.get("align_head.out.weight"),
                gradients.get("align_head.out.bias"), dxhat);
        INDArray dz = buf("d_align_z", m, d).assign(0);
        layerNormBackward(dxhat, xhat, buf("align.rstd", m, 1), dz);
        mlp3Backward("align_head.", headInput(head.block()), head.hiddenDim(), d, dz, dh);
    }

    /** SRA's head on rows of its block: Linear → SiLU → Linear, parameters sra_head.{0,2}. */
    private INDArray sraForward() {
        SraHead head = sit.sraHead().orElseThrow();
        long m = (long) n * tokens;
        INDArray act = buf("sra.act", m, head.hiddenDim());
        linear(headInput(head.block()), sit.parameter("sra_head.0.weight"), sit.parameter("sra_head.0.bias"), act);
        silu(act, buf("sra.sig", m, head.hiddenDim()), act);
        INDArray out = buf("sra.out", m, d);
        linear(act, sit.parameter("sra_head.2.weight"), sit.parameter("sra_head.2.bias"), out);
        return out.reshape(n, tokens, d);
    }

    /** Adds the gradient through the SRA head to dh, the gradient of its block's output. */
    private void sraBackward(INDArray dSra, INDArray dh) {
        SraHead head = sit.sraHead().orElseThrow();
        long m = (long) n * tokens;
        INDArray dAct = buf("d_sra_act", m, head.hiddenDim());
        linearBackward(dSra.castTo(type).reshape(m, d), buf("sra.act", m, head.hiddenDim()), sit.parameter("sra_head.2.weight"),
                gradients.get("sra_head.2.weight"), gradients.get("sra_head.2.bias"), dAct);
        siluBackward(dAct, buf("sra.act", m, head.hiddenDim()), buf("sra.sig", m, head.hiddenDim()), buf("d_sra_scratch", m, head.hiddenDim()));
        INDArray dIn = buf("d_sra_in", m, d);
        linearBackward(dAct, headInput(head.block()), sit.parameter("sra_head.0.weight"), gradients.get("sra_head.0.weight"),
                gradients.get("sra_head.0.bias"), dIn);
        dh.addi(dIn);
    }

    private void zeroGradients(String prefix) {
        gradients.forEach((name, g) -> {
            if (name.startsWith(prefix)) g.assign(0);
        });
    }

    // ---------------------------------------------------------------- primitives on preallocated rows

    /** out = x·Wᵀ + b with W in PyTorch layout [out, in]. */
    private static void linear(INDArray x, INDArray w, INDArray b, INDArray out) {
        Nd4j.gemm(x, w, out, false, true, 1.0, 0.0);
        out.addiRowVector(b);
    }

    /** dW = dyᵀ·x, db = Σ_rows dy, and dx = dy·W when dx is given. */
    private void linearBackward(INDArray dy, INDArray x, INDArray w, INDArray dw, INDArray db, INDArray dx) {
        Nd4j.gemm(dy, x, dw, true, false, 1.0, 0.0);
        Nd4j.gemm(ones(dy.size(0)), dy, db.reshape(1, db.length()), false, false, 1.0, 0.0);
        if (dx != null) {
            Nd4j.gemm(dy, w, dx, false, false, 1.0, 0.0);
        }
    }

    /** LayerNorm without affine over the rows of x [R, W] into xhat, keeping 1/√(var + eps) [R, 1] for the backward. */
    private void layerNorm(INDArray x, INDArray xhat, INDArray rstd, double eps) {
        long r = x.size(0), w = x.size(1);
        INDArray mean = buf("ln_mean_" + w, r, 1);
        Nd4j.gemm(x, onesColumn(w), mean, false, false, 1.0 / w, 0.0);
        xhat.assign(x).subiColumnVector(mean);
        INDArray square = buf("ln_square_" + w, r, w).assign(xhat).muli(xhat);
        Nd4j.gemm(square, onesColumn(w), rstd, false, false, 1.0 / w, 0.0);
        Transforms.sqrt(rstd.addi(eps), false).rdivi(1.0);
        xhat.muliColumnVector(rstd);
    }

    /** Adds to dx the gradient through LayerNorm: rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)); dxhat is consumed. */
    private void layerNormBackward(INDArray dxhat, INDArray xhat, INDArray rstd, INDArray dx) {
        long r = xhat.size(0), w = xhat.size(1);
        INDArray meanD = buf("ln_mean_d_" + w, r, 1), meanDx = buf("ln_mean_dx_" + w, r, 1);
        INDArray scratch = buf("ln_square_" + w, r, w);
        Nd4j.gemm(dxhat, onesColumn(w), meanD, false, false, 1.0 / w, 0.0);
        Nd4j.gemm(scratch.assign(dxhat).muli(xhat), onesColumn(w), meanDx, false, false, 1.0 / w, 0.0);
        dxhat.subiColumnVector(meanD).subi(scratch.assign(xhat).muliColumnVector(meanDx)).muliColumnVector(rstd);
        dx.addi(dxhat);
    }

    /** scale + 1 into {@code onePlus}. */
    private static INDArray onePlus(INDArray scale, INDArray onePlus) {
        return onePlus.assign(scale).addi(1.0);
    }

    // adaLN's shift, scale and gate come per sample [N, W], broadcast over each sample's L rows of [N·L, W], or per token
    // [N·L, W], element-wise (the DH head's). One row per sample and token (L = 1) is both, and both paths agree there.

    private static boolean perToken(INDArray modulation, INDArray rows) {
        return modulation.size(0) == rows.size(0);
    }

    /** Rows [N·L, W] as [N, L, W], for per-sample broadcasts along axes (0, 2). */
    private INDArray bySample(INDArray rows) {
        return rows.reshape(n, rows.size(0) / n, rows.size(1));
    }

    /** a = xhat·(1 + scale) + shift on rows [N·L, W] (L the blocks' whole sequence, or the final layer's patch tokens). */
    private void modulate(INDArray xhat, INDArray shift, INDArray onePlusScale, INDArray a) {
        if (perToken(shift, a)) {
            Nd4j.exec(new MulOp(xhat, onePlusScale, a));
            a.addi(shift);
            return;
        }
        INDArray a3 = bySample(a);
        Broadcast.mul(bySample(xhat), onePlusScale, a3, 0, 2);
        Broadcast.add(a3, shift, a3, 0, 2);
    }

    /** da holds the gradient of a on entry and of xhat on exit; the shift's and scale's gradients are written. */
    private void modulateBackward(INDArray da, INDArray xhat, INDArray onePlusScale, INDArray dShift, INDArray dScale) {
        if (perToken(dShift, da)) {
            dShift.assign(da);
            Nd4j.exec(new MulOp(da, xhat, dScale));
            da.muli(onePlusScale);
            return;
        }
        INDArray da3 = bySample(da);
        da3.sum(dShift, 1);
        INDArray scratch = buf("mod_scratch", da.size(0), da.size(1)).assign(da).muli(xhat);
        bySample(scratch).sum(dScale, 1);
        Broadcast.mul(da3, onePlusScale, da3, 0, 2);
    }

    /** next = h + gate·branch. */
    private void gate(INDArray h, INDArray gate, INDArray branch, INDArray next) {
        if (perToken(gate, next)) {
            Nd4j.exec(new MulOp(branch, gate, next));
        } else {
            Broadcast.mul(bySample(branch), gate, bySample(next), 0, 2);
        }
        next.addi(h);
    }

    /** From the gradient dNext of the gated sum: the gate's gradient and the branch's gradient (dh passes through). */
    private void gateBackward(INDArray dNext, INDArray gate, INDArray branch, INDArray dGate, INDArray dBranch) {
        if (perToken(gate, dNext)) {
            Nd4j.exec(new MulOp(dNext, branch, dGate));
            Nd4j.exec(new MulOp(dNext, gate, dBranch));
            return;
        }
        INDArray scratch = buf("mod_scratch", dNext.size(0), dNext.size(1)).assign(dNext).muli(branch);
        bySample(scratch).sum(dGate, 1);
        Broadcast.mul(bySample(dNext), gate, bySample(dBranch), 0, 2);
    }

    // The element-wise functions below write through ops with separate outputs (one pass over memory each) rather
    // than assign-then-modify chains: on the step's largest arrays memory passes, not arithmetic, set their cost.

    /** out = x·σ(x), keeping σ(x) for the backward; out may be x. */
    private static void silu(INDArray x, INDArray sigmoid, INDArray out) {
        Nd4j.exec(new Sigmoid(x, sigmoid));
        Nd4j.exec(new MulOp(x, sigmoid, out));
    }

    /** dy ← dy·(σ + a·(1 − σ)), SiLU's derivative written with the activation a = x·σ(x) and σ(x) the forward kept. */
    private static void siluBackward(INDArray dy, INDArray activation, INDArray sigmoid, INDArray scratch) {
        Nd4j.exec(new MulOp(activation, sigmoid, scratch));
        Nd4j.exec(new SubOp(activation, scratch, scratch));
        dy.muli(scratch.addi(sigmoid));
    }

    /** GELU(tanh) as x·σ(2z), z = √(2/π)(x + 0.044715x³) (see {@link Layers#geluTanh}), keeping σ(2z). */
    private static void geluTanh(INDArray x, INDArray sigmoid, INDArray out) {
        Nd4j.exec(new MulOp(x, x, out));
        out.muli(2 * SQRT_2_OVER_PI * GELU_CUBIC).addi(2 * SQRT_2_OVER_PI).muli(x); // 2z
        Nd4j.exec(new Sigmoid(out, sigmoid));
        Nd4j.exec(new MulOp(x, sigmoid, out));
    }

    /**
     * dy ← dy·(s + g·(1 − s)·2√(2/π)(1 + 3·0.044715x²)) with s = σ(2z) and g = x·s the GELU output, both kept by the
     * forward pass.
     */
    private static void geluTanhBackward(INDArray dy, INDArray x, INDArray gelu, INDArray sigmoid, INDArray scratch, INDArray product) {
        Nd4j.exec(new MulOp(x, x, scratch));
        scratch.muli(3 * GELU_CUBIC * 2 * SQRT_2_OVER_PI).addi(2 * SQRT_2_OVER_PI).muli(gelu);
        Nd4j.exec(new MulOp(scratch, sigmoid, product));
        Nd4j.exec(new SubOp(scratch, product, scratch));
        dy.muli(scratch.addi(sigmoid));
    }

    /** A row of ones [1, length]. */
    private INDArray ones(long length) {
        return onesRows.computeIfAbsent(length, k -> Nd4j.ones(type, 1, k));
    }

    /** A column of ones [length, 1]. */
    private INDArray onesColumn(long length) {
        return ones(length).reshape(length, 1);
    }

    /** The buffer of this batch size under a name and shape, allocated (zeroed) on first use. */
    private INDArray buf(String key, long... shape) {
        return ws.computeIfAbsent(key + Arrays.toString(shape), k -> Nd4j.create(type, shape));
    }
}
