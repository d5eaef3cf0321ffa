package org.transcend.model.vae;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The KL-regularised autoencoder of latent diffusion, ready to encode images to latents and decode them back. It
 * runs on a {@link VaeEngine} and is not safe for concurrent use.
 */
public final class AutoencoderKL {

    /** The most activation values per channel-major buffer a pass may hold; larger batches are split. */
    private static final long VALUES_PER_BUFFER = 1L << 24;

    private final VaeConfig config;
    private final Map<String, INDArray> parameters = new LinkedHashMap<>();
    private final VaeEngine engine;

    /** Builds the autoencoder around FLOAT copies of {@code stateDict} (latent-diffusion names, PyTorch shapes). */
    public AutoencoderKL(VaeConfig config, Map<String, INDArray> stateDict) {
        org.transcend.model.nn.DeferredDeallocation.install(); // ND4J frees buffers under running ops otherwise
        VaeGraph.requireStateDict(config.validate(), stateDict);
        for (String name : VaeGraph.parameterShapes(config).keySet()) {
            parameters.put(name, stateDict.get(name).castTo(DataType.FLOAT).dup('c'));
        }
        this.config = config;
        this.engine = new VaeEngine(config, parameters);
    }

    /** A freshly initialised autoencoder, for training from scratch. */
    public static AutoencoderKL initialized(VaeConfig config, long seed) {
        return new AutoencoderKL(config, VaeGraph.initialParameters(config, seed));
    }

    public VaeConfig config() {
        return config;
    }

    /** The posterior of images [N, inChannels, H, W] in [−1, 1], H and W divisible by the downsampling factor. */
    public Posterior encode(INDArray images) {
        VaeEngine.requireBatch("images", images, config.inChannels(), config.downsamplingFactor());
        List<Posterior> parts = inChunks(images, images.size(2) * images.size(3), engine::encode);
        if (parts.size() == 1) return parts.get(0);
        return new Posterior(concat(parts, Posterior::mean), concat(parts, Posterior::std), concat(parts, Posterior::moments));
    }

    /** The images [N, outChannels, h·f, w·f] decoded from latents [N, latentChannels, h, w] (unscaled latents). */
    public INDArray decode(INDArray latents) {
        VaeEngine.requireBatch("latents", latents, config.latentChannels(), 1);
        long f = config.downsamplingFactor();
        List<INDArray> parts = inChunks(latents, latents.size(2) * f * latents.size(3) * f, engine::decode);
        return parts.size() == 1 ? parts.get(0) : concat(parts, Function.identity());
    }

    /** The parameters under their latent-diffusion names, copied. */
    public Map<String, INDArray> stateDict() {
        Map<String, INDArray> out = new LinkedHashMap<>();
        parameters.forEach((name, value) -> out.put(name, value.dup()));
        return out;
    }

    /** Overwrites every parameter; names and shapes must be exactly this configuration's. */
    public void loadStateDict(Map<String, INDArray> stateDict) {
        VaeGraph.requireStateDict(config, stateDict);
        parameters.forEach((name, value) -> value.assign(stateDict.get(name)));
    }

    /**
     * Runs a batch in chunks small enough that no buffer of the pass holds more than {@link #VALUES_PER_BUFFER}
     * values (the widest level's channels at full image size), so a large batch of large images fits in memory.
     */
    private <T> List<T> inChunks(INDArray batch, long pixelsPerImage, Function<INDArray, T> pass) {
        long widest = (long) config.channels() * config.channelMultipliers().stream().mapToInt(Integer::intValue).max().orElseThrow();
        long chunk = Math.max(1, VALUES_PER_BUFFER / (widest * pixelsPerImage));
        List<T> out = new ArrayList<>();
        for (long from = 0; from < batch.size(0); from += chunk) {
            long to = Math.min(batch.size(0), from + chunk);
            out.add(pass.apply(from == 0 && to == batch.size(0) ? batch : batch.get(NDArrayIndex.interval(from, to))));
        }
        return out;
    }

    private static <T> INDArray concat(List<T> parts, Function<T, INDArray> part) {
        return Nd4j.concat(0, parts.stream().map(part).toArray(INDArray[]::new));
    }
}
