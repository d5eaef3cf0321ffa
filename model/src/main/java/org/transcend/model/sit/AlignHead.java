package org.transcend.model.sit;

/**
 * The Self-Transcendence VAE-align head of stage (a) on the output of block {@code block} (1-indexed):
 * MLP D→hiddenDim→hiddenDim→D with SiLU, LayerNorm (no affine, eps 1e-6), Linear D→p²·C, unpatchify to
 * [N, C, H, W]. Parameters: {@code align_head.{0,2,4}.weight/bias} for the MLP and
 * {@code align_head.out.weight/bias} for the last Linear. (The Self-Transcendence reference code calls
 * the same tensors {@code projectors.{0,2,4}} and {@code projectors_final.linear}.)
 */
public record AlignHead(int block, int hiddenDim) {
    public AlignHead {
        if (hiddenDim < 1) {
            throw new IllegalArgumentException("align head hiddenDim must be at least 1; got " + hiddenDim);
        }
    }
}
