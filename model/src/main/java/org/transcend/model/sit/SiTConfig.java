package org.transcend.model.sit;

/**
 * The shape of a SiT network (REPA's {@code models/sit.py}): what the state_dict's tensor shapes and the
 * attention split depend on.
 *
 * @param inputSize    latent height and width (square inputs, as the reference)
 * @param patchSize    patch edge p; tokens T = (inputSize / p)²
 * @param inChannels   latent channels C (also the output channels)
 * @param hidden       width D of the residual stream
 * @param depth        number of SiT blocks
 * @param heads        attention heads; D must be divisible by it
 * @param mlpRatio     MLP hidden width = floor(D · mlpRatio), as {@code int(hidden_size * mlp_ratio)}
 * @param numClasses   real classes; the label table has one more row, the null class {@code numClasses}
 * @param qkNorm       timm's QK-norm: LayerNorm (affine, eps 1e-5) over each head's queries and keys
 * @param classDropout probability of replacing a label by the null class during training
 * @param bottleneck   JiT's low-rank patch embedding: patch values → bottleneck → D ({@code x_embedder.proj1},
 *                     {@code x_embedder.proj2}); 0 for the plain patch embedding ({@code x_embedder.proj})
 * @param globalDim    REG's global token: the width Dg of the global feature that one extra token in front of the patch
 *                     tokens carries in ({@code cls_projectors2}) and predicts back ({@code linear_cls}); 0 for none
 * @param headWidth    RAE's DiT-DH head: the width D_h of its wide, shallow blocks after the backbone (see {@link SiT});
 *                     0 without the head
 * @param headDepth    the DH head's blocks; 0 for no head (the backbone's own final layer makes the output)
 * @param headHeads    the DH head's attention heads; D_h must be divisible by it; 0 without the head
 */
public record SiTConfig(int inputSize, int patchSize, int inChannels, int hidden, int depth, int heads,
                        double mlpRatio, int numClasses, boolean qkNorm, double classDropout, int bottleneck, int globalDim,
                        int headWidth, int headDepth, int headHeads) {

    /** A SiT without RAE's DH head. */
    public SiTConfig(int inputSize, int patchSize, int inChannels, int hidden, int depth, int heads,
                     double mlpRatio, int numClasses, boolean qkNorm, double classDropout, int bottleneck, int globalDim) {
        this(inputSize, patchSize, inChannels, hidden, depth, heads, mlpRatio, numClasses, qkNorm, classDropout, bottleneck, globalDim,
                0, 0, 0);
    }

    /** A SiT without REG's global token. */
    public SiTConfig(int inputSize, int patchSize, int inChannels, int hidden, int depth, int heads,
                     double mlpRatio, int numClasses, boolean qkNorm, double classDropout, int bottleneck) {
        this(inputSize, patchSize, inChannels, hidden, depth, heads, mlpRatio, numClasses, qkNorm, classDropout, bottleneck, 0);
    }

    /** The reference's SiT: a plain patch embedding. */
    public SiTConfig(int inputSize, int patchSize, int inChannels, int hidden, int depth, int heads,
                     double mlpRatio, int numClasses, boolean qkNorm, double classDropout) {
        this(inputSize, patchSize, inChannels, hidden, depth, heads, mlpRatio, numClasses, qkNorm, classDropout, 0);
    }

    public static SiTConfig sitS2(int inputSize, int inChannels, int numClasses) {
        return new SiTConfig(inputSize, 2, inChannels, 384, 12, 6, 4.0, numClasses, false, 0.1);
    }

    public static SiTConfig sitB2(int inputSize, int inChannels, int numClasses) {
        return new SiTConfig(inputSize, 2, inChannels, 768, 12, 12, 4.0, numClasses, false, 0.1);
    }

    public static SiTConfig sitL2(int inputSize, int inChannels, int numClasses) {
        return new SiTConfig(inputSize, 2, inChannels, 1024, 24, 16, 4.0, numClasses, false, 0.1);
    }

    public static SiTConfig sitXL2(int inputSize, int inChannels, int numClasses) {
        return new SiTConfig(inputSize, 2, inChannels, 1152, 28, 16, 4.0, numClasses, false, 0.1);
    }

    /** The named configuration ({@code SiT-S/2}, {@code SiT-B/2}, {@code SiT-L/2}, {@code SiT-XL/2}). */
    public static SiTConfig named(String name, int inputSize, int inChannels, int numClasses) {
        return switch (name) {
            case "SiT-S/2" -> sitS2(inputSize, inChannels, numClasses);
            case "SiT-B/2" -> sitB2(inputSize, inChannels, numClasses);
            case "SiT-L/2" -> sitL2(inputSize, inChannels, numClasses);
            case "SiT-XL/2" -> sitXL2(inputSize, inChannels, numClasses);
            default -> throw new IllegalArgumentException("unknown SiT configuration '" + name
                    + "'; accepted: SiT-S/2, SiT-B/2, SiT-L/2, SiT-XL/2");
        };
    }

    /** Throws an error naming the first inconsistent value; returns this config otherwise. */
    public SiTConfig validate() {
        positive("inputSize", inputSize);
        positive("patchSize", patchSize);
        positive("inChannels", inChannels);
        positive("hidden", hidden);
        positive("depth", depth);
        positive("heads", heads);
        positive("numClasses", numClasses);
        if (inputSize % patchSize != 0) {
            throw new IllegalArgumentException("inputSize " + inputSize + " is not divisible by patchSize " + patchSize);
        }
        if (hidden % heads != 0) {
            throw new IllegalArgumentException("hidden " + hidden + " is not divisible by heads " + heads);
        }
        // The fixed 2-D sin-cos position embedding splits D in four (sin and cos of each axis).
        if (hidden % 4 != 0) {
            throw new IllegalArgumentException("hidden " + hidden + " must be a multiple of 4 for the 2-D sin-cos position embedding");
        }
        if (!(mlpRatio > 0) || mlpHidden() < 1) {
            throw new IllegalArgumentException("mlpRatio " + mlpRatio + " must give an MLP width of at least 1 for hidden " + hidden);
        }
        if (bottleneck < 0) {
            throw new IllegalArgumentException("bottleneck is " + bottleneck + "; accepted: 0 (none) or a width of at least 1");
        }
        if (globalDim < 0) {
            throw new IllegalArgumentException("globalDim is " + globalDim + "; accepted: 0 (no global token) or a width of at least 1");
        }
        validateHead();
        if (!(classDropout >= 0 && classDropout < 1)) {
            throw new IllegalArgumentException("classDropout " + classDropout + " must lie in [0, 1)");
        }
        return this;
    }

    private void validateHead() {
        if (headDepth < 0) {
            throw new IllegalArgumentException("headDepth is " + headDepth + "; accepted: 0 (no DH head) or a depth of at least 1");
        }
        if (headDepth == 0) {
            if (headWidth != 0 || headHeads != 0) {
                throw new IllegalArgumentException("headWidth " + headWidth + " and headHeads " + headHeads
                        + " are given without a DH head (headDepth 0); accepted: both 0, or a headDepth of at least 1");
            }
            return;
        }
        // the head's patch tokens get their own 2-D sin-cos position embedding, which splits D_h in four
        if (headWidth < 4 || headWidth % 4 != 0) {
            throw new IllegalArgumentException("headWidth is " + headWidth + "; accepted with a DH head: a positive multiple of 4");
        }
        if (headHeads < 1 || headWidth % headHeads != 0) {
            throw new IllegalArgumentException("headHeads is " + headHeads + "; accepted: a divisor of headWidth " + headWidth);
        }
        if (headMlpHidden() < 1) {
            throw new IllegalArgumentException("mlpRatio " + mlpRatio + " must give an MLP width of at least 1 for headWidth " + headWidth);
        }
    }

    private static void positive(String name, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " is " + value + "; it must be at least 1");
        }
    }

    /** Patches per side, inputSize / p. */
    public int grid() {
        return inputSize / patchSize;
    }

    /** Tokens T per image. */
    public int tokens() {
        return grid() * grid();
    }

    /** Whether one extra token carries REG's global feature g in front of the patch tokens. */
    public boolean hasGlobalToken() {
        return globalDim > 0;
    }

    /** Tokens every block attends over: the T patch tokens, and REG's global token in front of them when there is one. */
    public int sequence() {
        return tokens() + (hasGlobalToken() ? 1 : 0);
    }

    /**
     * One sample's state as a sampler integrates it: the latent [C, H, W], or with the global token the latent's
     * C·H·W values followed by the token's Dg in one row (see {@link SiTEngine#velocityModel}).
     */
    public long[] samplerState() {
        return hasGlobalToken() ? new long[]{(long) inChannels * inputSize * inputSize + globalDim}
                : new long[]{inChannels, inputSize, inputSize};
    }

    public int headDim() {
        return hidden / heads;
    }

    /** Whether RAE's DH head follows the backbone and makes the output in place of the backbone's final layer. */
    public boolean hasHead() {
        return headDepth > 0;
    }

    /** MLP hidden width of the DH head's blocks, floor(D_h · mlpRatio). */
    public int headMlpHidden() {
        return (int) (headWidth * mlpRatio);
    }

    public int mlpHidden() {
        return (int) (hidden * mlpRatio);
    }

    /** Values per patch, p²·C: the width of the final layer's output. */
    public int patchValues() {
        return patchSize * patchSize * inChannels;
    }

    /** Rows of the label table: the classes plus the null class. */
    public int labelRows() {
        return numClasses + 1;
    }

    /** The null-class label used for classifier-free guidance. */
    public int nullClass() {
        return numClasses;
    }
}
