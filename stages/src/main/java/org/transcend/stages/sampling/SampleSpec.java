package org.transcend.stages.sampling;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.flow.Guidance;
import org.transcend.model.flow.Sampler;
import org.transcend.model.flow.TimeShift;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.sit.SiT;
import org.transcend.model.train.Checkpoint;

import java.io.Serializable;
import java.util.Map;
import java.util.OptionalInt;

/**
 * What to sample and how: the model checkpoint (its EMA weights), the VAE that decodes, the latent scale and shift,
 * the sampler (method, steps, CFG scale and interval), how many samples in how many shards, the seed, and the
 * size to centre-crop decoded images to (the dataset's own size when the VAE saw padded images), and α of RAE's time
 * shift on the sampler's grid (1 = none). {@code headHeads} are the attention heads of RAE's DH head, when the checkpoint
 * has one. An empty {@code vaeWeights} is JiT's pixel space: no decoder, the samples are
 * the images.
 */
public record SampleSpec(String checkpoint, int heads, int headHeads, boolean qkNorm, String prediction,
                         String vaeWeights, int vaeResolution, double scale, double shift,
                         String method, int steps, double cfgScale, double cfgLow, double cfgHigh,
                         long count, int shards, long seed, int numClasses, int cropTo,
                         double timeShift) implements Serializable {

    public Sampler sampler() {
        Sampler.Method m = switch (method) {
            case "euler" -> Sampler.Method.EULER;
            case "heun" -> Sampler.Method.HEUN;
            case "sde" -> Sampler.Method.EULER_MARUYAMA;
            default -> throw new IllegalArgumentException("sample.method is '" + method + "'; accepted: euler, heun, sde");
        };
        Guidance g = cfgScale == 1.0 ? Guidance.NONE : new Guidance(cfgScale, new TimeWindow(cfgLow, cfgHigh));
        return new Sampler(m, steps, g, numClasses, new TimeShift(timeShift));
    }

    /** Steps of the preview sampler: the Euler ODE protocol METHOD.md gives for previews. */
    public static final int PREVIEW_STEPS = 50;

    /**
     * This spec turned into a training preview: {@code perClass} samples of every class from the same seeds, by the
     * Euler ODE without guidance (cheap, and comparable from one preview to the next), in one shard.
     */
    public SampleSpec preview(int perClass) {
        return new SampleSpec(checkpoint, heads, headHeads, qkNorm, prediction, vaeWeights, vaeResolution, scale, shift, "euler",
                PREVIEW_STEPS, 1.0, cfgLow, cfgHigh, (long) perClass * numClasses, 1, seed, numClasses, cropTo, timeShift);
    }

    /**
     * A checkpoint file of any recipe, its backbone tensors checked against the network before any is read (a
     * sampler needs no training heads, so theirs are not checked).
     */
    public Checkpoint checkpoint(java.nio.file.Path file) throws java.io.IOException {
        return Checkpoint.load(file, shapes -> SiT.checkStateDict(SiT.withoutHeads(shapes), heads, headHeads, qkNorm, OptionalInt.empty(), OptionalInt.empty()));
    }

    /** The backbone that the weights (EMA, typically) of any recipe's checkpoint describe, without its training heads. */
    public SiT model(Map<String, INDArray> weights) {
        return SiT.fromStateDict(SiT.withoutHeads(weights), heads, headHeads, qkNorm, OptionalInt.empty(), OptionalInt.empty());
    }

    /** Whether samples are decoded: JiT's pixel space has no VAE, the samples are the images. */
    public boolean decodes() {
        return !vaeWeights.isEmpty();
    }

    /** Samples [first, end) of shard {@code shard}. */
    public long first(int shard) {
        return count * shard / shards;
    }

    /** The class of sample {@code index}: classes in turn, so a grid shows one class per row. */
    public int label(long index) {
        return (int) (index % numClasses);
    }
}
