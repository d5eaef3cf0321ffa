package org.transcend.model.train;

import org.transcend.model.flow.TimeWindow;

/** The auxiliary term a SiT run adds to the flow loss. */
public sealed interface Objective {

    /** Vanilla SiT: the flow loss alone. */
    record Vanilla() implements Objective {}

    /**
     * Stage (a), VAE-based alignment: the align head on block k_a regresses the velocity target v inside the
     * t-window, weighted by λ_a.
     */
    record VaeAlign(int block, TimeWindow window, double weight) implements Objective {}

    /**
     * Stage (b), Self-Transcendence: the projector on student block k_s regresses the guided teacher feature
     * f_g inside the t-window, weighted by λ_b, for the first {@code stopStep} steps only.
     */
    record GuidedFeatures(int block, TimeWindow window, double weight, long stopStep) implements Objective {}

    /**
     * REPA: the projector on block k regresses per-patch features of the clean image given from outside (for example
     * DINOv2-B patch tokens), by negative cosine similarity per token, weighted by λ, at every t.
     */
    record RepresentationAlignment(int block, double weight) implements Objective {}

    /**
     * SRA: the head on student block {@code block} regresses, by negative cosine per token weighted by λ, the block
     * {@code teacherBlock} features of the student's own EMA run at the lower noise t' = max(0, t − U[0, maxGap)).
     */
    record SelfRepresentation(int block, int teacherBlock, double weight, double maxGap) implements Objective {}

    /**
     * REG: the network's global token carries the noised global feature g_t = (1 − t)·g + t·ε_g of each image and
     * predicts its velocity ε_g − g beside the image's, {@code L = L_diff + β·mean‖v̂_g − (ε_g − g)‖²}, at every t.
     */
    record RepresentationEntanglement(double weight) implements Objective {}
}
