package org.transcend.model.sit;

import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.nn.PackedTensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * REPA's SiT (a DiT with adaLN-Zero conditioning) with optional projector and VAE-align heads: its weights in
 * PyTorch state_dict names and layouts, and a builder that wires them into a caller's SameDiff graph.
 *
 * <p>With REG's global token ({@link SiTConfig#globalDim}), the noised global feature g_t [N, Dg] is embedded by
 * {@code cls_projectors2} and enters as one extra token in front of the T patch tokens, without a position embedding;
 * every block attends over the T + 1 tokens, the final layer and the heads read the patch tokens only, and the token's
 * last residual gives v̂_g through LayerNorm (no affine) and {@code linear_cls}.
 *
 * <p>With RAE's DiT-DH head ({@link SiTConfig#hasHead}), a wide, shallow DDT-style decoder makes the output instead of
 * the backbone's final layer (which the state_dict then lacks). It follows RAE's {@code DiTwDDTHead.forward}: the
 * backbone's last patch tokens z and the timestep embedding t (t alone, not t + y) give the per-token condition
 * s = s_projector(SiLU(z + t)) [N, T, D_h]; x_t is patch-embedded again at D_h ({@code x_embedder_head.proj}) plus a
 * fixed 2-D sin-cos embedding at D_h ({@code pos_embed_head}); {@code head_blocks.i} are SiT blocks of width D_h whose
 * adaLN (SiLU → Linear, as RAE's LightningDDTBlock) reads s per token; {@code head_final_layer} is the final layer at
 * D_h, modulated by s per token. Where RAE differs in ways the head does not depend on, this keeps the backbone's
 * choices: LayerNorm and GELU-tanh MLP (RAE: RMSNorm, SwiGLU, RoPE), an s_projector even when D_h = D (RAE: identity).
 * The names are this project's (RAE calls the head's tensors {@code x_embedder}, {@code blocks.{depth + i}} and
 * {@code final_layer}, which would collide with the backbone's here).
 *
 * <p>Inputs of {@link #build}: x [N, C, H, W], t [N] and y as one-hot rows [N, numClasses + 1] (the last
 * column is the null class), all of the network's data type. Labels enter one-hot because the gradient of
 * ND4J's gather fails inside larger graphs; {@link #oneHot} makes the rows from integer labels. Label dropout
 * is the caller's (it belongs to the training plan).
 *
 * <p>The graphs share this object's arrays: an in-place update of a graph variable is an update of the model,
 * and {@link #loadStateDict} is seen by graphs already built.
 */
public final class SiT {

    /** Sinusoid frequencies of the timestep embedding (DiT's {@code frequency_embedding_size}). */
    public static final int FREQUENCY_EMBEDDING = 256;
    public static final double MAX_PERIOD = 10000;
    public static final String POS_EMBED = "pos_embed";
    /** JiT's bottleneck patch embedding, patch values → d' (no bias) and d' → D. */
    static final String BOTTLENECK_IN = "x_embedder.proj1.weight";
    static final String BOTTLENECK_OUT = "x_embedder.proj2.weight";
    /**
     * REG's global token: the Linear Dg → D that embeds the noised global feature g_t ({@code cls_projectors2}, REG's
     * name), and the Linear D → Dg that reads v̂_g from the token's LayerNorm-ed last residual ({@code linear_cls}; REG
     * keeps it inside {@code final_layer} after the adaLN modulation, this one reads the plain LayerNorm and stands apart).
     */
    static final String GLOBAL_EMBED = "cls_projectors2";
    static final String GLOBAL_OUT = "linear_cls";
    /** RAE's DH head: the condition's Linear D → D_h, the second patch embedding, its fixed position embedding, blocks, final layer. */
    static final String S_PROJECTOR = "s_projector";
    static final String HEAD_EMBED = "x_embedder_head.proj";
    static final String HEAD_POS_EMBED = "pos_embed_head";
    static final String HEAD_BLOCKS = "head_blocks.";
    static final String HEAD_FINAL = "head_final_layer.";
    /** The tensors that are fixed, not trained: the sin-cos position embeddings. */
    private static final List<String> FIXED = List.of(POS_EMBED, HEAD_POS_EMBED);

    static final double BLOCK_NORM_EPS = 1e-6;
    /** timm's QK-norm is a default {@code nn.LayerNorm}, whose eps is 1e-5. */
    static final double QK_NORM_EPS = 1e-5;

    private final SiTConfig config;
    private final List<ProjectorHead> projectors;
    private final Optional<AlignHead> alignHead;
    private final Optional<SraHead> sraHead;
    private final DataType dataType;
    private final List<Param> specs;
    private final Map<String, INDArray> params;

    private enum Init { XAVIER, ZERO, ONE, NORMAL_002, SINCOS }

    /** One tensor of the state_dict: its PyTorch name and shape and how the reference initialises it. */
    private record Param(String name, long[] shape, Init init, long fanIn, long fanOut) {
        static Param linearWeight(String name, long out, long in, Init init) {
            return new Param(name, new long[]{out, in}, init, in, out);
        }

        static Param of(String name, Init init, long... shape) {
            return new Param(name, shape, init, 0, 0);
        }
    }

    /**
     * How much of the network a build wires and how: parameter names get {@code prefix}; frozen parameters
     * enter as constants (no gradient); blocks after {@code lastBlock} and the final layer are skipped when
     * {@code lastBlock < depth}; heads are built only when {@code heads} is set.
     */
    public record Wiring(String prefix, boolean frozen, int lastBlock, boolean heads) {
        /** The whole trainable network with its heads, parameters under their PyTorch names. */
        public static Wiring full(int depth) {
            return new Wiring("", false, depth, true);
        }

        /** A frozen teacher run up to block k, no heads, its parameters under {@code prefix}. */
        public static Wiring frozenUpTo(String prefix, int lastBlock) {
            return new Wiring(prefix, true, lastBlock, false);
        }
    }

    private SiT(SiTConfig config, List<ProjectorHead> projectors, Optional<AlignHead> alignHead, Optional<SraHead> sraHead,
                DataType dataType) {
        this.config = config.validate();
        this.projectors = List.copyOf(projectors);
        this.alignHead = alignHead;
        this.sraHead = sraHead;
        this.dataType = dataType;
        for (ProjectorHead h : this.projectors) checkBlock("projector", h.block());
        alignHead.ifPresent(h -> checkBlock("align head", h.block()));
        sraHead.ifPresent(h -> checkBlock("SRA head", h.block()));
        this.specs = specs();
        this.params = new LinkedHashMap<>();
    }

    private void checkBlock(String head, int block) {
        if (block < 1 || block > config.depth()) {
            throw new IllegalArgumentException(head + " block " + block + " lies outside 1 to depth " + config.depth());
        }
    }

    /** A new network initialised as the reference (xavier-uniform linears, zero adaLN and final layer, ...), seeded. */
    public static SiT initialise(SiTConfig config, List<ProjectorHead> projectors, Optional<AlignHead> alignHead,
                                 DataType dataType, long seed) {
        return initialise(config, projectors, alignHead, Optional.empty(), dataType, seed);
    }

    /** As {@link #initialise(SiTConfig, List, Optional, DataType, long)}, with SRA's head when given. */
    public static SiT initialise(SiTConfig config, List<ProjectorHead> projectors, Optional<AlignHead> alignHead,
                                 Optional<SraHead> sraHead, DataType dataType, long seed) {
        SiT sit = new SiT(config, projectors, alignHead, sraHead, dataType);
        SplittableRandom random = new SplittableRandom(seed);
        for (Param p : sit.specs) {
            sit.params.put(p.name(), sit.initialValue(p, random));
        }
        return sit;
    }

    /**
     * A network holding the given PyTorch state_dict, its config inferred by {@link #inferConfig}; a projector
     * head per {@code projectors.{j}} group sits on {@code projectorBlock}, an {@code align_head} on
     * {@code alignBlock}. Extra, missing or misshapen tensors are errors.
     */
    public static SiT fromStateDict(Map<String, INDArray> weights, int heads, boolean qkNorm,
                                    OptionalInt projectorBlock, OptionalInt alignBlock) {
        return fromStateDict(weights, heads, heads, qkNorm, projectorBlock, alignBlock);
    }

    /** As {@link #fromStateDict(Map, int, boolean, OptionalInt, OptionalInt)}, with the DH head's attention heads. */
    public static SiT fromStateDict(Map<String, INDArray> weights, int heads, int headHeads, boolean qkNorm,
                                    OptionalInt projectorBlock, OptionalInt alignBlock) {
        SiT sit = layout(shapesOf(weights), heads, headHeads, qkNorm, projectorBlock, alignBlock);
        for (Param p : sit.specs) {
            sit.params.put(p.name(), Nd4j.zeros(DataType.FLOAT, p.shape()));
        }
        sit.loadStateDict(weights);
        return sit;
    }

    /**
     * Checks tensor names and shapes (a weights file's header, before any tensor is read) against the SiT they
     * describe, as {@link #fromStateDict} would: every missing, unexpected or misshapen tensor is named in one
     * error with the shape expected.
     */
    public static void checkStateDict(Map<String, long[]> shapes, int heads, boolean qkNorm,
                                      OptionalInt projectorBlock, OptionalInt alignBlock) {
        checkStateDict(shapes, heads, heads, qkNorm, projectorBlock, alignBlock);
    }

    /** As {@link #checkStateDict(Map, int, boolean, OptionalInt, OptionalInt)}, with the DH head's attention heads. */
    public static void checkStateDict(Map<String, long[]> shapes, int heads, int headHeads, boolean qkNorm,
                                      OptionalInt projectorBlock, OptionalInt alignBlock) {
        SiT sit = layout(shapes, heads, headHeads, qkNorm, projectorBlock, alignBlock);
        sit.refuse(sit.problems(shapes));
    }

    /** The network the shapes describe, without tensors. */
    private static SiT layout(Map<String, long[]> shapes, int heads, int headHeads, boolean qkNorm, OptionalInt projectorBlock,
                              OptionalInt alignBlock) {
        SiTConfig config = inferConfigFromShapes(shapes, heads, headHeads, qkNorm);
        List<ProjectorHead> projectorHeads = new ArrayList<>();
        for (int j = 0; shapes.containsKey("projectors." + j + ".0.weight"); j++) {
            if (projectorBlock.isEmpty()) {
                throw new IllegalArgumentException("the state_dict holds projectors." + j + " but no projector block was given");
            }
            projectorHeads.add(new ProjectorHead(projectorBlock.getAsInt(),
                    (int) require(shapes, "projectors." + j + ".0.weight")[0],
                    (int) require(shapes, "projectors." + j + ".4.weight")[0]));
        }
        Optional<AlignHead> align = Optional.empty();
        if (shapes.containsKey("align_head.0.weight")) {
            if (alignBlock.isEmpty()) {
                throw new IllegalArgumentException("the state_dict holds align_head but no align head block was given");
            }
            align = Optional.of(new AlignHead(alignBlock.getAsInt(), (int) shapes.get("align_head.0.weight")[0]));
        }
        return new SiT(config, projectorHeads, align, Optional.empty(), DataType.FLOAT);
    }

    private static Map<String, long[]> shapesOf(Map<String, INDArray> weights) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        weights.forEach((name, a) -> shapes.put(name, a.shape()));
        return shapes;
    }

    /**
     * The config a PyTorch SiT state_dict implies: hidden, channels and patch from {@code x_embedder.proj.weight},
     * depth from the blocks present, input size from {@code pos_embed}, classes from the label table (one row is
     * the null class), MLP ratio from {@code fc1}; heads and QK-norm are settings (the flag must agree with the
     * presence of {@code q_norm} tensors); class dropout is the reference's 0.1; REG's global token from
     * {@code cls_projectors2.weight} [D, Dg]; RAE's DH head from {@code s_projector.weight} [D_h, D] and the
     * {@code head_blocks} present, its attention heads taken to be {@code heads} (as RAE's DiT-DH-XL: 16 and 16).
     */
    public static SiTConfig inferConfig(Map<String, INDArray> weights, int heads, boolean qkNorm) {
        return inferConfigFromShapes(shapesOf(weights), heads, heads, qkNorm);
    }

    private static SiTConfig inferConfigFromShapes(Map<String, long[]> shapes, int heads, int headHeads, boolean qkNorm) {
        boolean lowRank = shapes.containsKey(BOTTLENECK_IN);
        String patchName = lowRank ? BOTTLENECK_IN : "x_embedder.proj.weight";
        long[] patchWeight = require(shapes, patchName);
        if (patchWeight.length != 4 || patchWeight[2] != patchWeight[3]) {
            throw new IllegalArgumentException(patchName + " has shape " + Arrays.toString(patchWeight)
                    + "; expected [" + (lowRank ? "d'" : "D") + ", C, p, p]");
        }
        int bottleneck = lowRank ? (int) patchWeight[0] : 0;
        int hidden = lowRank ? (int) require(shapes, BOTTLENECK_OUT)[0] : (int) patchWeight[0];
        int channels = (int) patchWeight[1];
        int patch = (int) patchWeight[2];
        int depth = 0;
        while (shapes.containsKey("blocks." + depth + ".attn.qkv.weight")) depth++;
        if (depth == 0) {
            throw new IllegalArgumentException("the state_dict has no blocks.0.attn.qkv.weight; it is not a SiT");
        }
        long[] posEmbed = require(shapes, POS_EMBED);
        if (posEmbed.length != 3) {
            throw new IllegalArgumentException(POS_EMBED + " has shape " + Arrays.toString(posEmbed) + "; expected [1, tokens, D]");
        }
        long tokens = posEmbed[1];
        int grid = (int) Math.round(Math.sqrt(tokens));
        if ((long) grid * grid != tokens) {
            throw new IllegalArgumentException("pos_embed has " + tokens + " tokens, not a square patch grid");
        }
        int numClasses = (int) require(shapes, "y_embedder.embedding_table.weight")[0] - 1;
        double mlpRatio = (double) require(shapes, "blocks.0.mlp.fc1.weight")[0] / hidden;
        boolean fileQkNorm = shapes.containsKey("blocks.0.attn.q_norm.weight");
        if (fileQkNorm != qkNorm) {
            throw new IllegalArgumentException("qkNorm is " + qkNorm + " but the state_dict " + (fileQkNorm ? "holds" : "lacks")
                    + " blocks.0.attn.q_norm.weight; set qkNorm to " + fileQkNorm);
        }
        int globalDim = shapes.containsKey(GLOBAL_EMBED + ".weight") ? (int) shapes.get(GLOBAL_EMBED + ".weight")[1] : 0;
        int headDepth = 0;
        while (shapes.containsKey(HEAD_BLOCKS + headDepth + ".attn.qkv.weight")) headDepth++;
        int headWidth = headDepth == 0 ? 0 : (int) require(shapes, S_PROJECTOR + ".weight")[0];
        return new SiTConfig(grid * patch, patch, channels, hidden, depth, heads, mlpRatio, numClasses, qkNorm, 0.1, bottleneck,
                globalDim, headWidth, headDepth, headDepth == 0 ? 0 : headHeads).validate();
    }

    private static long[] require(Map<String, long[]> shapes, String name) {
        long[] s = shapes.get(name);
        if (s == null) {
            throw new IllegalArgumentException("the state_dict lacks '" + name + "', which a SiT needs");
        }
        return s;
    }

    public SiTConfig config() {
        return config;
    }

    public List<ProjectorHead> projectors() {
        return projectors;
    }

    public Optional<AlignHead> alignHead() {
        return alignHead;
    }

    public Optional<SraHead> sraHead() {
        return sraHead;
    }

    public DataType dataType() {
        return dataType;
    }

    /** A copy of this network with every tensor in another floating type (FLOAT64 for gradient checks). */
    public SiT castTo(DataType type) {
        SiT copy = new SiT(config, projectors, alignHead, sraHead, type);
        params.forEach((name, a) -> copy.params.put(name, a.castTo(type).dup()));
        return copy;
    }

    /**
     * This network without heads, computing with {@code tensors} (by PyTorch name; not copied) instead of its own
     * weights: SRA's teacher is the student's backbone on its EMA weights, which the EMA updates in place.
     */
    public SiT backboneOver(Map<String, INDArray> tensors) {
        SiT view = new SiT(config, List.of(), Optional.empty(), Optional.empty(), dataType);
        for (Param p : view.specs) {
            INDArray a = FIXED.contains(p.name()) ? params.get(p.name()) : tensors.get(p.name());
            if (a == null) {
                throw new IllegalArgumentException("no tensor '" + p.name() + "' for the backbone; given " + tensors.keySet());
            }
            view.params.put(p.name(), a);
        }
        return view;
    }

    /** Names of the trained tensors: the state_dict minus the fixed {@code pos_embed} (and the DH head's {@code pos_embed_head}). */
    public List<String> trainableNames() {
        return specs.stream().map(Param::name).filter(n -> !FIXED.contains(n)).toList();
    }

    /**
     * Moves the trainable tensors into one flat buffer, in {@link #trainableNames} order, and returns it: from then on
     * {@link #parameter} gives views of that buffer, so an optimiser can update every tensor in one pass over it. Arrays
     * taken from {@link #parameter} before the move are copies that no longer change with the network.
     */
    public PackedTensors packTrainable() {
        Map<String, INDArray> trainable = new LinkedHashMap<>();
        for (String name : trainableNames()) trainable.put(name, params.get(name));
        PackedTensors packed = PackedTensors.copyOf(trainable, dataType);
        params.putAll(packed.views());
        return packed;
    }

    /**
     * The live tensor under a PyTorch name, not a copy: {@link SiTEngine} computes with it and the trainer's
     * optimiser updates it in place.
     */
    public INDArray parameter(String name) {
        INDArray a = params.get(name);
        if (a == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in this SiT; it holds " + params.keySet());
        }
        return a;
    }

    /**
     * The state_dict without the auxiliary heads (projectors, align head, SRA head): the network that samples. Heads only
     * shape training, so a sampler loads any recipe's checkpoint through this without knowing its heads. RAE's DH head
     * stays: it makes the output.
     */
    public static <T> Map<String, T> withoutHeads(Map<String, T> stateDict) {
        Map<String, T> backbone = new LinkedHashMap<>(stateDict);
        backbone.keySet().removeIf(name -> name.startsWith("projectors.") || name.startsWith("align_head.") || name.startsWith("sra_head."));
        return backbone;
    }

    /** A copy of every tensor under its PyTorch name and in its PyTorch layout. */
    public Map<String, INDArray> stateDict() {
        Map<String, INDArray> copy = new LinkedHashMap<>();
        params.forEach((name, a) -> copy.put(name, a.dup()));
        return copy;
    }

    /**
     * Copies a PyTorch state_dict into this network (cast to its data type). Every tensor is checked first;
     * missing, unexpected or misshapen tensors are all named in one error and nothing is changed.
     */
    public void loadStateDict(Map<String, INDArray> weights) {
        List<String> problems = problems(shapesOf(weights));
        for (Param p : specs) {
            INDArray a = weights.get(p.name());
            if (a != null && !a.dataType().isFPType()) {
                problems.add("'" + p.name() + "' has type " + a.dataType() + ", expected a floating type");
            }
        }
        refuse(problems);
        for (Param p : specs) {
            params.get(p.name()).assign(weights.get(p.name()).castTo(dataType));
        }
    }

    /** Every tensor missing, unexpected or of another shape than this network's, each with the shape expected. */
    private List<String> problems(Map<String, long[]> shapes) {
        List<String> problems = new ArrayList<>();
        for (Param p : specs) {
            long[] s = shapes.get(p.name());
            if (s == null) {
                problems.add("missing '" + p.name() + "' " + Arrays.toString(p.shape()));
            } else if (!Arrays.equals(s, p.shape())) {
                problems.add("'" + p.name() + "' has shape " + Arrays.toString(s) + ", expected " + Arrays.toString(p.shape()));
            }
        }
        for (String name : shapes.keySet()) {
            if (specs.stream().noneMatch(p -> p.name().equals(name))) {
                problems.add("unexpected '" + name + "' " + Arrays.toString(shapes.get(name)));
            }
        }
        return problems;
    }

    private void refuse(List<String> problems) {
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("the state_dict does not fit " + config + " with projectors " + projectors
                    + " and align head " + alignHead + ": " + String.join("; ", problems));
        }
    }

    /** One-hot label rows [N, numClasses + 1] of this network's type; labels must lie in 0 to numClasses (null). */
    public INDArray oneHot(long... labels) {
        INDArray rows = Nd4j.zeros(dataType, labels.length, config.labelRows());
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] > config.nullClass()) {
                throw new IllegalArgumentException("label " + labels[i] + " at position " + i + " lies outside 0 to "
                        + config.nullClass() + " (" + config.nullClass() + " is the null class)");
            }
            rows.putScalar(i, labels[i], 1.0);
        }
        return rows;
    }

    /** The whole network with its heads, trainable, under the PyTorch names. */
    public SiTOutputs build(SameDiff sd, SDVariable x, SDVariable t, SDVariable y) {
        return build(sd, x, t, y, Wiring.full(config.depth()));
    }

    /** As {@link #build(SameDiff, SDVariable, SDVariable, SDVariable)} for a network without REG's global token. */
    public SiTOutputs build(SameDiff sd, SDVariable x, SDVariable t, SDVariable y, Wiring wiring) {
        return build(sd, x, null, t, y, wiring);
    }

    /**
     * Wires the network into {@code sd} on the caller's inputs; {@code g} [N, Dg] is REG's noised global feature g_t,
     * given exactly when the config has the global token. Parameters already in {@code sd} under the same name are
     * reused, so building twice with one prefix shares the weights.
     */
    public SiTOutputs build(SameDiff sd, SDVariable x, SDVariable g, SDVariable t, SDVariable y, Wiring wiring) {
        if (config.hasGlobalToken() != (g != null)) {
            throw new IllegalArgumentException(config.hasGlobalToken() ? "this SiT has REG's global token and needs g_t [N, "
                    + config.globalDim() + "]" : "this SiT has no global token; g_t is accepted only with one");
        }
        if (wiring.lastBlock() < 1 || wiring.lastBlock() > config.depth()) {
            throw new IllegalArgumentException("lastBlock " + wiring.lastBlock() + " lies outside 1 to depth " + config.depth());
        }
        if (config.hasHead() && wiring.lastBlock() == config.depth()) {
            throw new IllegalArgumentException("the SameDiff graph does not wire RAE's DH head (headDepth " + config.headDepth()
                    + "); SiTEngine computes it, or build up to block " + (config.depth() - 1) + " at most");
        }
        if (wiring.heads()) {
            for (ProjectorHead h : projectors) needsBlock(wiring, "projector", h.block());
            alignHead.ifPresent(h -> needsBlock(wiring, "align head", h.block()));
            sraHead.ifPresent(h -> needsBlock(wiring, "SRA head", h.block()));
        }
        Function<String, SDVariable> p = name -> param(sd, wiring, name);
        int d = config.hidden();
        int tokens = config.tokens();

        long patchValues = (long) config.inChannels() * config.patchSize() * config.patchSize();
        SDVariable patches = Layers.patchify(sd, x, config.inChannels(), config.grid(), config.patchSize());
        SDVariable embedded;
        if (config.bottleneck() == 0) {
            embedded = Layers.linear(sd, patches, sd.reshape(p.apply("x_embedder.proj.weight"), d, patchValues), p.apply("x_embedder.proj.bias"));
        } else {
            SDVariable low = sd.mmul(patches, sd.reshape(p.apply(BOTTLENECK_IN), config.bottleneck(), patchValues), false, true, false);
            embedded = Layers.linear(sd, low, sd.reshape(p.apply(BOTTLENECK_OUT), d, config.bottleneck()), p.apply("x_embedder.proj2.bias"));
        }
        SDVariable h = sd.reshape(embedded, -1, tokens, d).add(p.apply(POS_EMBED));
        if (g != null) {
            // in front of the patch tokens, without a position embedding (REG's pos_embed row for it is zero)
            SDVariable token = Layers.linear(sd, g, p.apply(GLOBAL_EMBED + ".weight"), p.apply(GLOBAL_EMBED + ".bias"));
            h = sd.concat(1, sd.reshape(token, -1, 1, d), h);
        }

        SDVariable c = timestepEmbedding(sd, t, p).add(sd.mmul(y, p.apply("y_embedder.embedding_table.weight")));
        SDVariable siluC = Layers.silu(sd, c); // every adaLN modulation starts with SiLU(c)

        List<SDVariable> blocks = new ArrayList<>();
        for (int i = 0; i < wiring.lastBlock(); i++) {
            h = block(sd, h, siluC, "blocks." + i + ".", p);
            blocks.add(h);
        }

        Optional<SDVariable> out = Optional.empty();
        Optional<SDVariable> global = Optional.empty();
        if (wiring.lastBlock() == config.depth()) {
            out = Optional.of(finalLayer(sd, patchTokens(h), siluC, p));
            if (g != null) {
                SDVariable normed = Layers.layerNorm(sd, h.get(SDIndex.all(), SDIndex.point(0), SDIndex.all()), 1, BLOCK_NORM_EPS);
                global = Optional.of(Layers.linear(sd, normed, p.apply(GLOBAL_OUT + ".weight"), p.apply(GLOBAL_OUT + ".bias")));
            }
        }
        List<SDVariable> projections = new ArrayList<>();
        Optional<SDVariable> align = Optional.empty();
        Optional<SDVariable> sra = Optional.empty();
        if (wiring.heads()) {
            if (sraHead.isPresent()) {
                SDVariable rows = sd.reshape(patchTokens(blocks.get(sraHead.get().block() - 1)), -1, d);
                SDVariable hidden = Layers.silu(sd, Layers.linear(sd, rows, p.apply("sra_head.0.weight"), p.apply("sra_head.0.bias")));
                sra = Optional.of(sd.reshape(Layers.linear(sd, hidden, p.apply("sra_head.2.weight"), p.apply("sra_head.2.bias")), -1, tokens, d));
            }
            for (int j = 0; j < projectors.size(); j++) {
                SDVariable rows = sd.reshape(patchTokens(blocks.get(projectors.get(j).block() - 1)), -1, d);
                SDVariable z = mlp3(sd, rows, "projectors." + j + ".", p);
                projections.add(sd.reshape(z, -1, tokens, projectors.get(j).outDim()));
            }
            if (alignHead.isPresent()) {
                SDVariable rows = sd.reshape(patchTokens(blocks.get(alignHead.get().block() - 1)), -1, d);
                SDVariable normed = Layers.layerNorm(sd, mlp3(sd, rows, "align_head.", p), 1, BLOCK_NORM_EPS);
                SDVariable patchesOut = Layers.linear(sd, normed, p.apply("align_head.out.weight"), p.apply("align_head.out.bias"));
                align = Optional.of(Layers.unpatchify(sd, sd.reshape(patchesOut, -1, tokens, config.patchValues()),
                        config.inChannels(), config.grid(), config.patchSize()));
            }
        }
        return new SiTOutputs(c, Collections.unmodifiableList(blocks), out, Collections.unmodifiableList(projections), align, sra, global);
    }

    /** The T patch tokens of a residual stream [N, sequence, D]: what the final layer and every head read. */
    private SDVariable patchTokens(SDVariable h) {
        return config.hasGlobalToken() ? h.get(SDIndex.all(), SDIndex.interval(1, config.sequence()), SDIndex.all()) : h;
    }

    private void needsBlock(Wiring wiring, String head, int block) {
        if (block > wiring.lastBlock()) {
            throw new IllegalArgumentException("the " + head + " reads block " + block + " but the build stops at block "
                    + wiring.lastBlock() + "; build without heads or further");
        }
    }

    private SDVariable param(SameDiff sd, Wiring wiring, String name) {
        String full = wiring.prefix() + name;
        if (sd.hasVariable(full)) {
            return sd.getVariable(full);
        }
        INDArray a = params.get(name);
        return wiring.frozen() || FIXED.contains(name) ? sd.constant(full, a) : sd.var(full, a);
    }

    /** DiT's timestep embedder: [cos(t·f), sin(t·f)] over 128 frequencies, then Linear → SiLU → Linear. */
    private SDVariable timestepEmbedding(SameDiff sd, SDVariable t, Function<String, SDVariable> p) {
        SDVariable f = sd.constant(timestepFrequencies(dataType));
        SDVariable args = sd.reshape(t, -1, 1).mul(f);
        SDVariable freq = sd.concat(1, sd.math.cos(args), sd.math.sin(args));
        SDVariable hidden = Layers.silu(sd, Layers.linear(sd, freq, p.apply("t_embedder.mlp.0.weight"), p.apply("t_embedder.mlp.0.bias")));
        return Layers.linear(sd, hidden, p.apply("t_embedder.mlp.2.weight"), p.apply("t_embedder.mlp.2.bias"));
    }

    /** The 128 frequencies of the timestep embedding as a row [1, 128] of the given type. */
    static INDArray timestepFrequencies(DataType type) {
        int half = FREQUENCY_EMBEDDING / 2;
        // float32 arithmetic in the reference's order, so the frequencies agree to the last bit
        float logPeriod = (float) -Math.log(MAX_PERIOD);
        float[] freqs = new float[half];
        for (int i = 0; i < half; i++) {
            freqs[i] = (float) Math.exp((i * logPeriod) / half);
        }
        return Nd4j.create(freqs, new long[]{1, half}, 'c').castTo(type);
    }

    /** The adaLN modulation of c split into n pieces [N, 1, D], in the reference's chunk order. */
    private SDVariable[] modulation(SameDiff sd, SDVariable siluC, String prefix, int n, Function<String, SDVariable> p) {
        SDVariable m = Layers.linear(sd, siluC, p.apply(prefix + "adaLN_modulation.1.weight"), p.apply(prefix + "adaLN_modulation.1.bias"));
        return sd.split(sd.reshape(m, -1, n, config.hidden()), n, 1);
    }

    private SDVariable block(SameDiff sd, SDVariable x, SDVariable siluC, String prefix, Function<String, SDVariable> p) {
        SDVariable[] m = modulation(sd, siluC, prefix, 6, p); // shift, scale, gate for attention, then for the MLP
        SDVariable attnIn = Layers.modulate(Layers.layerNorm(sd, x, 2, BLOCK_NORM_EPS), m[0], m[1]);
        x = x.add(m[2].mul(attention(sd, attnIn, prefix + "attn.", p)));
        SDVariable mlpIn = Layers.modulate(Layers.layerNorm(sd, x, 2, BLOCK_NORM_EPS), m[3], m[4]);
        return x.add(m[5].mul(mlp(sd, mlpIn, prefix + "mlp.", p)));
    }

    /** timm's Attention with qkv bias and optional QK-norm, on x [N, sequence, D]. */
    private SDVariable attention(SameDiff sd, SDVariable x, String prefix, Function<String, SDVariable> p) {
        int d = config.hidden(), heads = config.heads(), headDim = config.headDim(), tokens = config.sequence();
        SDVariable qkv = Layers.linear(sd, sd.reshape(x, -1, d), p.apply(prefix + "qkv.weight"), p.apply(prefix + "qkv.bias"));
        SDVariable split = sd.permute(sd.reshape(qkv, -1, tokens, 3, heads, headDim), 2, 0, 3, 1, 4);
        SDVariable[] qkvHeads = sd.unstack(split, 0, 3); // each [N, H, T, d]
        SDVariable q = qkvHeads[0], k = qkvHeads[1];
        if (config.qkNorm()) {
            q = Layers.layerNorm(sd, q, 3, QK_NORM_EPS).mul(p.apply(prefix + "q_norm.weight")).add(p.apply(prefix + "q_norm.bias"));
            k = Layers.layerNorm(sd, k, 3, QK_NORM_EPS).mul(p.apply(prefix + "k_norm.weight")).add(p.apply(prefix + "k_norm.bias"));
        }
        SDVariable o = Layers.attention(sd, q, k, qkvHeads[2], Math.pow(headDim, -0.5));
        SDVariable rows = sd.reshape(sd.permute(o, 0, 2, 1, 3), -1, d);
        SDVariable projected = Layers.linear(sd, rows, p.apply(prefix + "proj.weight"), p.apply(prefix + "proj.bias"));
        return sd.reshape(projected, -1, tokens, d);
    }

    /** timm's Mlp with GELU(tanh), on x [N, sequence, D]. */
    private SDVariable mlp(SameDiff sd, SDVariable x, String prefix, Function<String, SDVariable> p) {
        SDVariable rows = sd.reshape(x, -1, config.hidden());
        SDVariable hidden = Layers.geluTanh(sd, Layers.linear(sd, rows, p.apply(prefix + "fc1.weight"), p.apply(prefix + "fc1.bias")));
        SDVariable out = Layers.linear(sd, hidden, p.apply(prefix + "fc2.weight"), p.apply(prefix + "fc2.bias"));
        return sd.reshape(out, -1, config.sequence(), config.hidden());
    }

    private SDVariable finalLayer(SameDiff sd, SDVariable x, SDVariable siluC, Function<String, SDVariable> p) {
        SDVariable[] m = modulation(sd, siluC, "final_layer.", 2, p); // shift, scale
        SDVariable normed = Layers.modulate(Layers.layerNorm(sd, x, 2, BLOCK_NORM_EPS), m[0], m[1]);
        SDVariable patches = Layers.linear(sd, sd.reshape(normed, -1, config.hidden()),
                p.apply("final_layer.linear.weight"), p.apply("final_layer.linear.bias"));
        return Layers.unpatchify(sd, sd.reshape(patches, -1, config.tokens(), config.patchValues()),
                config.inChannels(), config.grid(), config.patchSize());
    }

    /** REPA's build_mlp: Linear → SiLU → Linear → SiLU → Linear, parameters {prefix}{0,2,4}. */
    private static SDVariable mlp3(SameDiff sd, SDVariable rows, String prefix, Function<String, SDVariable> p) {
        SDVariable a = Layers.silu(sd, Layers.linear(sd, rows, p.apply(prefix + "0.weight"), p.apply(prefix + "0.bias")));
        SDVariable b = Layers.silu(sd, Layers.linear(sd, a, p.apply(prefix + "2.weight"), p.apply(prefix + "2.bias")));
        return Layers.linear(sd, b, p.apply(prefix + "4.weight"), p.apply(prefix + "4.bias"));
    }

    /** Every tensor of the state_dict, in the reference's registration order. */
    private List<Param> specs() {
        int d = config.hidden(), c = config.inChannels(), ps = config.patchSize();
        List<Param> s = new ArrayList<>();
        s.add(Param.of(POS_EMBED, Init.SINCOS, 1, config.tokens(), d));
        // the reference initialises the conv weight as a Linear over its flattened [D, C·p·p] view
        if (config.bottleneck() == 0) {
            s.add(new Param("x_embedder.proj.weight", new long[]{d, c, ps, ps}, Init.XAVIER, (long) c * ps * ps, d));
            s.add(Param.of("x_embedder.proj.bias", Init.ZERO, d));
        } else {
            // JiT's BottleneckPatchEmbed: Conv2d(C, d', p, p, bias=False), then a 1x1 Conv2d(d', D)
            int b = config.bottleneck();
            s.add(new Param(BOTTLENECK_IN, new long[]{b, c, ps, ps}, Init.XAVIER, (long) c * ps * ps, b));
            s.add(new Param(BOTTLENECK_OUT, new long[]{d, b, 1, 1}, Init.XAVIER, b, d));
            s.add(Param.of("x_embedder.proj2.bias", Init.ZERO, d));
        }
        if (config.hasGlobalToken()) {
            linear(s, GLOBAL_EMBED, d, config.globalDim(), Init.XAVIER);
        }
        s.add(Param.linearWeight("t_embedder.mlp.0.weight", d, FREQUENCY_EMBEDDING, Init.NORMAL_002));
        s.add(Param.of("t_embedder.mlp.0.bias", Init.ZERO, d));
        s.add(Param.linearWeight("t_embedder.mlp.2.weight", d, d, Init.NORMAL_002));
        s.add(Param.of("t_embedder.mlp.2.bias", Init.ZERO, d));
        s.add(Param.of("y_embedder.embedding_table.weight", Init.NORMAL_002, config.labelRows(), d));
        for (int i = 0; i < config.depth(); i++) {
            blockSpecs(s, "blocks." + i + ".", d, config.mlpHidden(), config.headDim());
        }
        for (int j = 0; j < projectors.size(); j++) {
            ProjectorHead h = projectors.get(j);
            linear(s, "projectors." + j + ".0", h.hiddenDim(), d, Init.XAVIER);
            linear(s, "projectors." + j + ".2", h.hiddenDim(), h.hiddenDim(), Init.XAVIER);
            linear(s, "projectors." + j + ".4", h.outDim(), h.hiddenDim(), Init.XAVIER);
        }
        alignHead.ifPresent(h -> {
            linear(s, "align_head.0", h.hiddenDim(), d, Init.XAVIER);
            linear(s, "align_head.2", h.hiddenDim(), h.hiddenDim(), Init.XAVIER);
            linear(s, "align_head.4", d, h.hiddenDim(), Init.XAVIER);
            linear(s, "align_head.out", config.patchValues(), d, Init.XAVIER);
        });
        sraHead.ifPresent(h -> {
            linear(s, "sra_head.0", h.hiddenDim(), d, Init.XAVIER);
            linear(s, "sra_head.2", d, h.hiddenDim(), Init.XAVIER);
        });
        if (config.hasGlobalToken()) {
            // zero, as the final layer: v̂_g is an output of the network as v̂ is
            linear(s, GLOBAL_OUT, config.globalDim(), d, Init.ZERO);
        }
        if (config.hasHead()) {
            headSpecs(s);
        } else {
            linear(s, "final_layer.linear", config.patchValues(), d, Init.ZERO);
            linear(s, "final_layer.adaLN_modulation.1", 2L * d, d, Init.ZERO);
        }
        return List.copyOf(s);
    }

    /** RAE's DH head, initialised as RAE's {@code initialize_weights}: xavier linears, zero adaLN and final layer. */
    private void headSpecs(List<Param> s) {
        int d = config.hidden(), w = config.headWidth(), c = config.inChannels(), ps = config.patchSize();
        linear(s, S_PROJECTOR, w, d, Init.XAVIER);
        s.add(new Param(HEAD_EMBED + ".weight", new long[]{w, c, ps, ps}, Init.XAVIER, (long) c * ps * ps, w));
        s.add(Param.of(HEAD_EMBED + ".bias", Init.ZERO, w));
        s.add(Param.of(HEAD_POS_EMBED, Init.SINCOS, 1, config.tokens(), w));
        for (int i = 0; i < config.headDepth(); i++) {
            blockSpecs(s, HEAD_BLOCKS + i + ".", w, config.headMlpHidden(), w / config.headHeads());
        }
        linear(s, HEAD_FINAL + "linear", config.patchValues(), w, Init.ZERO);
        linear(s, HEAD_FINAL + "adaLN_modulation.1", 2L * w, w, Init.ZERO);
    }

    /** One SiT block's tensors at width w: attention (with QK-norm over each head's hd values), MLP, adaLN-Zero. */
    private void blockSpecs(List<Param> s, String b, int w, int mlpHidden, int hd) {
        linear(s, b + "attn.qkv", 3L * w, w, Init.XAVIER);
        if (config.qkNorm()) {
            for (String norm : List.of("q_norm", "k_norm")) {
                s.add(Param.of(b + "attn." + norm + ".weight", Init.ONE, hd));
                s.add(Param.of(b + "attn." + norm + ".bias", Init.ZERO, hd));
            }
        }
        linear(s, b + "attn.proj", w, w, Init.XAVIER);
        linear(s, b + "mlp.fc1", mlpHidden, w, Init.XAVIER);
        linear(s, b + "mlp.fc2", w, mlpHidden, Init.XAVIER);
        linear(s, b + "adaLN_modulation.1", 6L * w, w, Init.ZERO);
    }

    /** A Linear's weight [out, in] with the given init and its bias, which the reference always zeroes. */
    private static void linear(List<Param> s, String name, long out, long in, Init init) {
        s.add(Param.linearWeight(name + ".weight", out, in, init));
        s.add(Param.of(name + ".bias", Init.ZERO, out));
    }

    private INDArray initialValue(Param p, SplittableRandom random) {
        long n = Arrays.stream(p.shape()).reduce(1, Math::multiplyExact);
        double[] v = new double[Math.toIntExact(n)];
        switch (p.init()) {
            case ZERO -> { }
            case ONE -> Arrays.fill(v, 1.0);
            case XAVIER -> {
                double bound = Math.sqrt(6.0 / (p.fanIn() + p.fanOut()));
                for (int i = 0; i < v.length; i++) v[i] = (2 * random.nextDouble() - 1) * bound;
            }
            case NORMAL_002 -> {
                for (int i = 0; i < v.length; i++) v[i] = 0.02 * random.nextGaussian();
            }
            case SINCOS -> v = positionEmbedding((int) p.shape()[2], config.grid()); // [1, T, width]
        }
        return Nd4j.create(v, p.shape(), DataType.DOUBLE).castTo(dataType);
    }

    /**
     * MAE's fixed 2-D sin-cos position embedding, flattened [T·D]: for the patch in row i, column j, the first
     * half of D encodes j and the second half i (the reference's meshgrid puts w first), each as [sin, cos].
     */
    static double[] positionEmbedding(int d, int grid) {
        int quarter = d / 4;
        double[] omega = new double[quarter];
        for (int k = 0; k < quarter; k++) {
            omega[k] = 1.0 / Math.pow(10000, (double) k / quarter);
        }
        double[] e = new double[grid * grid * d];
        for (int i = 0; i < grid; i++) {
            for (int j = 0; j < grid; j++) {
                int base = (i * grid + j) * d;
                for (int k = 0; k < quarter; k++) {
                    e[base + k] = Math.sin(j * omega[k]);
                    e[base + quarter + k] = Math.cos(j * omega[k]);
                    e[base + 2 * quarter + k] = Math.sin(i * omega[k]);
                    e[base + 3 * quarter + k] = Math.cos(i * omega[k]);
                }
            }
        }
        return e;
    }
}
