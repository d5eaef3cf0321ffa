package org.transcend.model.sit;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * The SameDiff building blocks of SiT, each written out so that it matches PyTorch exactly and has a
 * working gradient in ND4J 1.0.0-M2.1 (see {@code LayersTest} for the pitfalls each one avoids).
 */
public final class Layers {

    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);

    private Layers() {}

    /** PyTorch {@code nn.Linear} on rows: x [M, in] · Wᵀ + b with W in PyTorch layout [out, in]. */
    public static SDVariable linear(SameDiff sd, SDVariable x, SDVariable weight, SDVariable bias) {
        return sd.mmul(x, weight, false, true, false).add(bias);
    }

    /**
     * LayerNorm without affine over {@code axis}: (x − mean) / √(var + eps), variance biased as PyTorch's.
     * The axis must be given as a positive index: keepDims reductions on negative axes are wrong in M2.1.
     */
    public static SDVariable layerNorm(SameDiff sd, SDVariable x, int axis, double eps) {
        if (axis < 0) {
            throw new IllegalArgumentException("layerNorm axis " + axis + " must be positive (negative keepDims axes are broken in ND4J M2.1)");
        }
        SDVariable centred = x.sub(x.mean(true, axis));
        SDVariable variance = centred.mul(centred).mean(true, axis); // square runs as the slower pow
        return centred.mul(sd.math.rsqrt(variance.add(eps)));
    }

    /**
     * GELU with the tanh approximation ({@code nn.GELU(approximate="tanh")}; ND4J's own gelu ops match neither
     * form), as x·σ(2z) with z = √(2/π)(x + 0.044715x³), which equals ½x(1 + tanh z) and takes fewer, cheaper ops
     * (ND4J's pow and its derivative are slow).
     */
    public static SDVariable geluTanh(SameDiff sd, SDVariable x) {
        SDVariable xSquared = x.mul(x);
        SDVariable twiceZ = x.mul(xSquared.mul(0.044715).add(1.0)).mul(2 * SQRT_2_OVER_PI);
        return x.mul(sd.nn.sigmoid(twiceZ));
    }

    /** SiLU, x·σ(x). */
    public static SDVariable silu(SameDiff sd, SDVariable x) {
        return sd.nn.swish(x);
    }

    /** adaLN modulate: x·(1 + scale) + shift, with x [N, T, D] and shift, scale [N, 1, D]. */
    public static SDVariable modulate(SDVariable x, SDVariable shift, SDVariable scale) {
        return x.mul(scale.add(1.0)).add(shift);
    }

    /**
     * Scaled dot-product attention over the last two axes of q, k, v [N, H, T, d]: softmax over the keys of
     * (q·scale)·kᵀ, then times v. timm scales q before the product, so this does too.
     */
    public static SDVariable attention(SameDiff sd, SDVariable q, SDVariable k, SDVariable v, double scale) {
        SDVariable scores = sd.mmul(q.mul(scale), k, false, true, false);
        return sd.mmul(sd.nn.softmax(scores, 3), v);
    }

    /**
     * Conv2d(k = s = p) as patchify + matmul: x [N, C, H, W] → rows [N·T, C·p·p] in token order (row-major
     * over the patch grid) and (c, i, j) order inside a patch, the flattening of a PyTorch conv weight [D, C, p, p].
     */
    public static SDVariable patchify(SameDiff sd, SDVariable x, int channels, int grid, int patch) {
        SDVariable split = sd.reshape(x, -1, channels, grid, patch, grid, patch);
        SDVariable byPatch = sd.permute(split, 0, 2, 4, 1, 3, 5);
        return sd.reshape(byPatch, -1, (long) channels * patch * patch);
    }

    /** The reference's unpatchify: [N, T, p·p·C] with (i, j, c) order inside a patch → [N, C, H, W]. */
    public static SDVariable unpatchify(SameDiff sd, SDVariable x, int channels, int grid, int patch) {
        SDVariable split = sd.reshape(x, -1, grid, grid, patch, patch, channels);
        SDVariable image = sd.permute(split, 0, 5, 1, 3, 2, 4);
        return sd.reshape(image, -1, channels, (long) grid * patch, (long) grid * patch);
    }
}
