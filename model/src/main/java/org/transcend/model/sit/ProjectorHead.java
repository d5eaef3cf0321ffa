package org.transcend.model.sit;

/**
 * The REPA / Self-Transcendence projector on the output of block {@code block} (1-indexed): the MLP
 * D→hiddenDim→hiddenDim→outDim with SiLU between, applied per token. Parameters
 * {@code projectors.{j}.{0,2,4}.weight/bias} as REPA's {@code build_mlp}, j = its position in the head list.
 */
public record ProjectorHead(int block, int hiddenDim, int outDim) {
    public ProjectorHead {
        if (hiddenDim < 1 || outDim < 1) {
            throw new IllegalArgumentException("projector widths must be at least 1; got hiddenDim " + hiddenDim + ", outDim " + outDim);
        }
    }
}
