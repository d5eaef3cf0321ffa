package org.transcend.model.sit;

/**
 * SRA's projection head on the output of block {@code block} (1-indexed): per token Linear D→hiddenDim, SiLU, Linear
 * hiddenDim→D (hiddenDim = 2D in SRA). Parameters {@code sra_head.{0,2}.weight/bias}.
 */
public record SraHead(int block, int hiddenDim) {
    public SraHead {
        if (hiddenDim < 1) {
            throw new IllegalArgumentException("SRA head hiddenDim must be at least 1; got " + hiddenDim);
        }
    }
}
