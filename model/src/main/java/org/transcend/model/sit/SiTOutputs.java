package org.transcend.model.sit;

import org.nd4j.autodiff.samediff.SDVariable;

import java.util.List;
import java.util.Optional;

/**
 * The graph variables one {@link SiT#build} call produced.
 *
 * @param c           conditioning c = timestep embedding + label embedding, [N, D]
 * @param blocks      the residual stream after each built block, [N, sequence, D] (with REG's global token, it is row 0 of
 *                    each sample and the T patch tokens follow); {@code blocks.get(k - 1)} is block k
 * @param out         the network output (velocity or x̂0 prediction) [N, C, H, W]; empty when the build stopped early
 * @param projections each {@link ProjectorHead}'s output [N, T, outDim], in head order; empty when heads were not built
 * @param align       the {@link AlignHead}'s output [N, C, H, W], when there is one and heads were built
 * @param sra         the {@link SraHead}'s output [N, T, D], when there is one and heads were built
 * @param global      REG's v̂_g [N, Dg] from the global token, when the network has one and the build ran to the end
 */
public record SiTOutputs(SDVariable c, List<SDVariable> blocks, Optional<SDVariable> out,
                         List<SDVariable> projections, Optional<SDVariable> align, Optional<SDVariable> sra,
                         Optional<SDVariable> global) {

    /** The residual stream after block k (1-indexed, as METHOD.md counts blocks). */
    public SDVariable block(int k) {
        if (k < 1 || k > blocks.size()) {
            throw new IllegalArgumentException("block " + k + " was not built; built blocks are 1 to " + blocks.size());
        }
        return blocks.get(k - 1);
    }
}
