package org.transcend.model.vae;

import java.util.ArrayList;
import java.util.List;

/**
 * The shape of an AutoencoderKL in the terms of latent diffusion's {@code ddconfig}: {@code channels} is
 * {@code ch}, {@code channelMultipliers} is {@code ch_mult}, {@code resBlocksPerLevel} is
 * {@code num_res_blocks}, {@code attentionResolutions} is {@code attn_resolutions} (the mid blocks always
 * attend), {@code latentChannels} is both {@code z_channels} and {@code embed_dim}.
 *
 * @param resolution the image side the model is built for; it places {@code attentionResolutions} on levels
 *                   (the graph itself accepts any side divisible by the downsampling factor)
 * @param normGroups the GroupNorm group count; latent diffusion's {@code Normalize} fixes it at {@link #GROUPS},
 *                   smaller VAEs trained here may use fewer
 */
public record VaeConfig(int inChannels, int outChannels, int resolution, int channels, List<Integer> channelMultipliers,
                        int resBlocksPerLevel, List<Integer> attentionResolutions, int latentChannels, boolean doubleZ,
                        int normGroups) {

    /** The GroupNorm group count of latent diffusion's {@code Normalize}. */
    public static final int GROUPS = 32;
    /** The GroupNorm epsilon of latent diffusion's {@code Normalize}. */
    public static final double NORM_EPS = 1e-6;

    public VaeConfig {
        channelMultipliers = List.copyOf(channelMultipliers);
        attentionResolutions = List.copyOf(attentionResolutions);
    }

    /** A configuration with latent diffusion's {@link #GROUPS} GroupNorm groups, as every SD-VAE file has. */
    public VaeConfig(int inChannels, int outChannels, int resolution, int channels, List<Integer> channelMultipliers,
                     int resBlocksPerLevel, List<Integer> attentionResolutions, int latentChannels, boolean doubleZ) {
        this(inChannels, outChannels, resolution, channels, channelMultipliers, resBlocksPerLevel, attentionResolutions,
                latentChannels, doubleZ, GROUPS);
    }

    /** The SD-VAE (kl-f8) of Stable Diffusion: 256-pixel RGB images to 32×32×4 latents. */
    public static VaeConfig sdVae() {
        return new VaeConfig(3, 3, 256, 128, List.of(1, 2, 4, 4), 2, List.of(), 4, true).validate();
    }

    /** The configuration of the PyTorch reference fixtures {@code vae_tiny_*.safetensors}: 16-pixel RGB to 8×8×4. */
    public static VaeConfig tiny() {
        return new VaeConfig(3, 3, 16, 32, List.of(1, 2), 1, List.of(), 4, true).validate();
    }

    /** A VAE a CPU can train on Fashion-MNIST: 32×32 grey images (28×28 padded) to 8×8×4 latents. */
    public static VaeConfig fashionMnist() {
        return new VaeConfig(1, 1, 32, 32, List.of(1, 2, 2), 1, List.of(), 4, true).validate();
    }

    /** The number of resolution levels; all but the last end in a 2× downsampling. */
    public int levels() {
        return channelMultipliers.size();
    }

    /** How many times smaller the latent is than the image along each side. */
    public int downsamplingFactor() {
        return 1 << (levels() - 1);
    }

    /** The latent side for images of side {@code resolution}. */
    public int latentResolution() {
        return resolution / downsamplingFactor();
    }

    /** The channel count at a level: {@code channels × channelMultipliers[level]}. */
    public int levelChannels(int level) {
        return channels * channelMultipliers.get(level);
    }

    /** Whether the res blocks of a level attend, as latent diffusion decides: by the level's image side. */
    public boolean attendsAt(int level) {
        return attentionResolutions.contains(resolution >> level);
    }

    /** This config, after checking every field; the error names the field, its value and what is accepted. */
    public VaeConfig validate() {
        requirePositive("inChannels", inChannels);
        requirePositive("outChannels", outChannels);
        requirePositive("resolution", resolution);
        requirePositive("channels", channels);
        requirePositive("resBlocksPerLevel", resBlocksPerLevel);
        requirePositive("latentChannels", latentChannels);
        requirePositive("normGroups", normGroups);
        if (channelMultipliers.isEmpty()) {
            throw new IllegalArgumentException("channelMultipliers is empty; accepted: one positive multiplier per level, e.g. [1, 2, 4, 4]");
        }
        for (int level = 0; level < levels(); level++) {
            int m = channelMultipliers.get(level);
            if (m <= 0 || (long) channels * m % normGroups != 0) {
                throw new IllegalArgumentException("channelMultipliers[" + level + "] = " + m + " gives " + (long) channels * m
                        + " channels at that level; accepted: a positive multiplier giving a multiple of " + normGroups
                        + " channels (GroupNorm has " + normGroups + " groups)");
            }
        }
        if (channels % normGroups != 0) {
            throw new IllegalArgumentException("channels = " + channels + "; accepted: a positive multiple of " + normGroups
                    + " (GroupNorm has " + normGroups + " groups)");
        }
        if (resolution % downsamplingFactor() != 0) {
            throw new IllegalArgumentException("resolution = " + resolution + " is not divisible by the downsampling factor "
                    + downsamplingFactor() + " of " + levels() + " levels");
        }
        List<Integer> levelSides = new ArrayList<>();
        for (int level = 0; level < levels(); level++) levelSides.add(resolution >> level);
        for (int r : attentionResolutions) {
            if (!levelSides.contains(r)) {
                throw new IllegalArgumentException("attentionResolutions contains " + r + ", which is no level's side; accepted: "
                        + levelSides + " for resolution " + resolution);
            }
        }
        if (!doubleZ) {
            throw new IllegalArgumentException("doubleZ = false; accepted: true (the KL autoencoder's encoder outputs the mean "
                    + "and log-variance of a diagonal Gaussian, 2 × latentChannels channels)");
        }
        return this;
    }

    private static void requirePositive(String field, int value) {
        if (value <= 0) throw new IllegalArgumentException(field + " = " + value + "; accepted: a positive integer");
    }
}
