package org.transcend.stages.evaluation;

import org.transcend.model.rng.CounterRng;
import org.transcend.model.rng.Purpose;

/**
 * Known damage to real images, so a distance can be checked against images that are plainly worse than the
 * reference: a Gaussian blur (σ = 1 pixel) or additive Gaussian noise (σ = 0.1 of the 0–255 range), rounded and
 * clamped back to uint8.
 */
public enum Degradation {
    NONE, BLUR, NOISE;

    static final double BLUR_SIGMA = 1.0;
    static final double NOISE_SIGMA = 25.5;

    /** The setting's word for it: none, blur, noise. */
    public static Degradation named(String name) {
        for (Degradation d : values()) if (d.name().equalsIgnoreCase(name)) return d;
        throw new IllegalArgumentException("degradation '" + name + "'; accepted: none, blur, noise");
    }

    /** The damaged copy of uint8 [C, H, W] pixels; the noise of image {@code index} depends on (seed, index) alone. */
    public byte[] apply(byte[] chw, int channels, int height, int width, long seed, long index) {
        return switch (this) {
            case NONE -> chw.clone();
            case BLUR -> blur(chw, channels, height, width);
            case NOISE -> {
                CounterRng rng = new CounterRng(seed, Purpose.SAMPLE_NOISE, index, 0);
                byte[] out = new byte[chw.length];
                for (int i = 0; i < chw.length; i++) out[i] = clamp((chw[i] & 0xFF) + NOISE_SIGMA * rng.normal(i));
                yield out;
            }
        };
    }

    /** A separable 7-tap Gaussian (radius 3σ), the edge pixel repeated beyond the border. */
    private static byte[] blur(byte[] chw, int channels, int height, int width) {
        int radius = 3;
        double[] kernel = new double[2 * radius + 1];
        double sum = 0;
        for (int k = -radius; k <= radius; k++) sum += kernel[k + radius] = Math.exp(-k * k / (2 * BLUR_SIGMA * BLUR_SIGMA));
        for (int k = 0; k < kernel.length; k++) kernel[k] /= sum;
        byte[] out = new byte[chw.length];
        double[] rows = new double[height * width];
        for (int c = 0; c < channels; c++) {
            int base = c * height * width;
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    double v = 0;
                    for (int k = -radius; k <= radius; k++) {
                        v += kernel[k + radius] * (chw[base + y * width + Math.min(width - 1, Math.max(0, x + k))] & 0xFF);
                    }
                    rows[y * width + x] = v;
                }
            }
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    double v = 0;
                    for (int k = -radius; k <= radius; k++) v += kernel[k + radius] * rows[Math.min(height - 1, Math.max(0, y + k)) * width + x];
                    out[base + y * width + x] = clamp(v);
                }
            }
        }
        return out;
    }

    private static byte clamp(double v) {
        return (byte) Math.max(0, Math.min(255, Math.round(v)));
    }
}
