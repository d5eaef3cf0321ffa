package org.transcend.stages.sampling;

import org.transcend.model.flow.Guidance;
import org.transcend.model.flow.Sampler;
import org.transcend.model.flow.TimeShift;
import org.transcend.model.flow.TimeWindow;

import java.io.Serializable;

/**
 * What to sample and how: the model checkpoint (its EMA weights), the VAE that decodes, the latent scale and shift,
 * the sampler (method, steps, CFG scale and interval), how many samples in how many shards, the seed, and the
 * size to centre-crop decoded images to (the dataset's own size when the VAE saw padded images), and α of RAE's time
 * shift on the sampler's grid (1 = none). An empty {@code vaeWeights} is JiT's pixel space: no decoder, the samples are
 * the images.
 */
public record SampleSpec(String checkpoint, int heads, boolean qkNorm, String prediction,
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

    /** Samples [first, end) of shard {@code shard}. */
    public long first(int shard) {
        return count * shard / shards;
    }

    /** The class of sample {@code index}: classes in turn, so a grid shows one class per row. */
    public int label(long index) {
        return (int) (index % numClasses);
    }
}
