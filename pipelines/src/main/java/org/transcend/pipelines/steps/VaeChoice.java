package org.transcend.pipelines.steps;

import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.config.Settings;

import java.util.List;

import static org.transcend.pipelines.config.Catalog.*;

/** Which VAE decodes latents: the user's weights file (vae.weights), or the one the train-vae stage trained. */
final class VaeChoice {
    private VaeChoice() {}

    static final String TRAINED_WEIGHTS = "vae.safetensors";

    static boolean userWeights(Settings s) {
        return !s.get(VAE_WEIGHTS.key()).isBlank();
    }

    static List<String> settingKeys(Settings s) {
        return List.of(VAE_WEIGHTS.key());
    }

    /** Upstream stages a decoding stage needs besides its model. */
    static List<String> upstream(Settings s) {
        return userWeights(s) ? List.of() : List.of(SiTRuns.TRAIN_VAE);
    }

    static String weights(StageContext ctx) {
        Settings s = ctx.settings();
        return userWeights(s) ? s.get(VAE_WEIGHTS.key()) : ctx.upstreamDir(SiTRuns.TRAIN_VAE) + TRAINED_WEIGHTS;
    }

    /** Fashion-MNIST's 28×28 images are padded to 32×32 for a VAE trained here; decoded samples are cropped back. */
    static int cropTo(StageContext ctx) {
        Settings s = ctx.settings();
        return !userWeights(s) && s.get(DATA_SOURCE.key()).equals("fashion-mnist") ? 28 : 0;
    }
}
