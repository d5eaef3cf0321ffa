package org.transcend.model.train;

import org.transcend.model.flow.Prediction;

/**
 * How a SiT run optimises: AdamW hyper-parameters, gradient clipping, EMA decay, what the network predicts,
 * the number of steps and how often it checkpoints.
 */
public record TrainerSettings(AdamW.Hyper optimizer, double gradientClip, double emaDecay, Prediction prediction,
                              long steps, long checkpointEvery) {

    public TrainerSettings {
        if (steps < 0) throw new IllegalArgumentException("steps is " + steps + "; accepted: 0 or more");
        if (checkpointEvery < 1) throw new IllegalArgumentException("checkpointEvery is " + checkpointEvery + "; accepted: 1 or more");
        if (!(gradientClip > 0)) throw new IllegalArgumentException("gradientClip is " + gradientClip + "; accepted: > 0");
    }

    /** METHOD.md's settings: AdamW 1e-4, betas (0.9, 0.999), eps 1e-8, no weight decay, clip 1.0, EMA 0.9999. */
    public static TrainerSettings paper(long steps, long checkpointEvery) {
        return new TrainerSettings(AdamW.Hyper.paper(), 1.0, 0.9999, Prediction.VELOCITY, steps, checkpointEvery);
    }
}
