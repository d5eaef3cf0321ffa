package org.transcend.model.vae;

import org.nd4j.autodiff.samediff.SDVariable;

/**
 * The training objective of a small KL autoencoder, as latent diffusion's {@code LPIPSWithDiscriminator} without
 * its perceptual and adversarial terms: per-image sums averaged over the batch of a pixel reconstruction error on a
 * reparameterised posterior sample, plus {@code kl} times KL(q(z | x) ‖ N(0, I)).
 */
public final class VaeLoss {

    private VaeLoss() {}

    /**
     * How the terms are weighted: {@code l1}·|x − x̂| and {@code l2}·(x − x̂)² per pixel, and {@code kl} on the
     * divergence (latent diffusion's kl-f8 used an L1 reconstruction and kl = 1e-6).
     */
    public record Weights(double l1, double l2, double kl) {
        public Weights {
            if (!(finiteNonNegative(l1) && finiteNonNegative(l2) && finiteNonNegative(kl)) || l1 + l2 == 0) {
                throw new IllegalArgumentException("loss weights l1 = " + l1 + ", l2 = " + l2 + ", kl = " + kl
                        + "; accepted: non-negative finite values with l1 + l2 > 0");
            }
        }

        private static boolean finiteNonNegative(double w) {
            return Double.isFinite(w) && w >= 0;
        }

        /** latent diffusion's setting for its KL autoencoders. */
        public static Weights ldm() {
            return new Weights(1.0, 0.0, 1e-6);
        }
    }

    /** The graph values of the objective: {@code loss} to minimise and its two terms, each a scalar. */
    public record Terms(SDVariable loss, SDVariable reconstruction, SDVariable kl, SDVariable decoded) {}

    /**
     * Adds the objective to the autoencoder's graph for {@code images} [N, C, H, W] in [−1, 1] and standard normal
     * {@code noise} [N, z, H/f, W/f], both supplied by the caller (placeholders, typically) so it owns the randomness.
     */
    public static Terms build(VaeGraph vae, SDVariable images, SDVariable noise, Weights weights) {
        var sd = vae.sameDiff();
        VaeGraph.PosteriorVariables posterior = vae.posterior(vae.moments(images));
        SDVariable latents = posterior.mean().add(posterior.std().mul(noise));
        SDVariable decoded = vae.decode(latents);

        SDVariable error = images.sub(decoded);
        SDVariable perPixel = null;
        if (weights.l1() > 0) perPixel = sd.math.abs(error).mul(weights.l1());
        if (weights.l2() > 0) {
            SDVariable squared = sd.math.square(error).mul(weights.l2());
            perPixel = perPixel == null ? squared : perPixel.add(squared);
        }
        SDVariable reconstruction = sd.mean(sd.sum(perPixel, false, 1, 2, 3), false, 0);

        SDVariable variance = sd.math.exp(posterior.logvar());
        SDVariable divergence = sd.math.square(posterior.mean()).add(variance).sub(1.0).sub(posterior.logvar()).mul(0.5);
        SDVariable kl = sd.mean(sd.sum(divergence, false, 1, 2, 3), false, 0);

        SDVariable loss = reconstruction.add(kl.mul(weights.kl()));
        return new Terms(loss, reconstruction, kl, decoded);
    }
}
