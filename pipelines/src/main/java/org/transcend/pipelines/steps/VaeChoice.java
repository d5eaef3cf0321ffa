package org.transcend.pipelines.steps;

import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.config.Settings;

import java.util.List;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * Which VAE encodes and decodes: the user's weights file (vae.weights), the one the train-vae stage trained, or none in
 * JiT's pixel space (latents.space=pixels), where the weights path is empty and the latents are the padded pixels.
 */
final class VaeChoice {
    private VaeChoice() {}

    static final String TRAINED_WEIGHTS = "vae.safetensors";

    static boolean userWeights(Settings s) {
        return !s.get(VAE_WEIGHTS.key()).isBlank();
    }

    static boolean pixelSpace(Settings s) {
        return s.get(LATENTS_SPACE.key()).equals("pixels");
    }

    /** Whether the pipeline trains its own VAE: neither weights given nor pixel space. */
    static boolean trained(Settings s) {
        return !userWeights(s) && !pixelSpace(s);
    }

    /** The space enters keys only when it is pixels, so VAE artifacts built before the setting existed still match. */
    static List<String> settingKeys(Settings s) {
        List<String> keys = new java.util.ArrayList<>(List.of(VAE_WEIGHTS.key()));
        keys.addAll(s.changedFromDefault(List.of(LATENTS_SPACE.key())));
        return keys;
    }

    /** Upstream stages a decoding stage needs besides its model. */
    static List<String> upstream(Settings s) {
        return trained(s) ? List.of(SiTRuns.TRAIN_VAE) : List.of();
    }

    /** The VAE weights file, or empty in pixel space (the identity encoder and decoder). */
    static String weights(StageContext ctx) {
        Settings s = ctx.settings();
        if (pixelSpace(s)) return "";
        return userWeights(s) ? s.get(VAE_WEIGHTS.key()) : ctx.upstreamDir(SiTRuns.TRAIN_VAE) + TRAINED_WEIGHTS;
    }

    /** Fashion-MNIST's 28×28 images are padded to 32×32 for a VAE trained here or in pixel space; samples are cropped back. */
    static int cropTo(StageContext ctx) {
        Settings s = ctx.settings();
        return !userWeights(s) && s.get(DATA_SOURCE.key()).equals("fashion-mnist") ? 28 : 0;
    }
}
