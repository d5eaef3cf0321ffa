package org.transcend.model.vae;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.Map;

/** The KL-regularised autoencoder of latent diffusion, ready to encode images to latents and decode them back. */
public final class AutoencoderKL {

    private static final String IMAGES = "images", LATENTS = "latents";
    private static final String MOMENTS = "moments", MEAN = "mean", STD = "std", DECODED = "decoded";

    private final VaeGraph graph;

    /** Builds the autoencoder around a copy of {@code stateDict} (latent-diffusion names, PyTorch shapes). */
    public AutoencoderKL(VaeConfig config, Map<String, INDArray> stateDict) {
        SameDiff sd = SameDiff.create();
        graph = VaeGraph.declare(sd, config, stateDict);
        SDVariable images = sd.placeHolder(IMAGES, DataType.FLOAT, -1, config.inChannels(), -1, -1);
        SDVariable moments = graph.moments(images);
        VaeGraph.PosteriorVariables posterior = graph.posterior(moments);
        moments.rename(MOMENTS);
        posterior.mean().rename(MEAN);
        posterior.std().rename(STD);
        SDVariable latents = sd.placeHolder(LATENTS, DataType.FLOAT, -1, config.latentChannels(), -1, -1);
        graph.decode(latents).rename(DECODED);
    }

    /** A freshly initialised autoencoder, for training from scratch. */
    public static AutoencoderKL initialized(VaeConfig config, long seed) {
        return new AutoencoderKL(config, VaeGraph.initialParameters(config, seed));
    }

    public VaeConfig config() {
        return graph.config();
    }

    /** The posterior of images [N, inChannels, H, W] in [−1, 1], H and W divisible by the downsampling factor. */
    public Posterior encode(INDArray images) {
        requireBatch("images", images, config().inChannels(), config().downsamplingFactor());
        Map<String, INDArray> out = graph.sameDiff().output(Map.of(IMAGES, images.castTo(DataType.FLOAT)), MOMENTS, MEAN, STD);
        return new Posterior(out.get(MEAN), out.get(STD), out.get(MOMENTS));
    }

    /** The images [N, outChannels, h·f, w·f] decoded from latents [N, latentChannels, h, w] (unscaled latents). */
    public INDArray decode(INDArray latents) {
        requireBatch("latents", latents, config().latentChannels(), 1);
        return graph.sameDiff().output(Map.of(LATENTS, latents.castTo(DataType.FLOAT)), DECODED).get(DECODED);
    }

    /** The parameters under their latent-diffusion names, copied. */
    public Map<String, INDArray> stateDict() {
        return graph.stateDict();
    }

    /** Overwrites every parameter; names and shapes must be exactly this configuration's. */
    public void loadStateDict(Map<String, INDArray> stateDict) {
        graph.loadStateDict(stateDict);
    }

    /**
     * Declares this autoencoder's current parameters in another graph, to train them there with autodiff; read the
     * trained values back with {@link VaeGraph#stateDict()} and {@link #loadStateDict}.
     */
    public VaeGraph addTo(SameDiff sd) {
        return VaeGraph.declare(sd, config(), stateDict());
    }

    private static void requireBatch(String what, INDArray a, long channels, int divisor) {
        if (a.rank() != 4 || a.size(1) != channels || a.size(2) % divisor != 0 || a.size(3) % divisor != 0 || a.size(0) == 0) {
            throw new IllegalArgumentException(what + " have shape " + Arrays.toString(a.shape()) + "; expected [N, " + channels
                    + ", H, W] with N > 0" + (divisor > 1 ? " and H, W divisible by " + divisor : ""));
        }
    }
}
