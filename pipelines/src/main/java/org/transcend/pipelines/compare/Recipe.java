package org.transcend.pipelines.compare;

import org.transcend.pipelines.config.ConfigException;
import org.transcend.pipelines.steps.TrainSiTStep;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A recipe `compare` can race: the pipeline that trains, samples and evaluates it, and the stage holding its model. */
public enum Recipe {
    VANILLA("vanilla", "baseline", TrainSiTStep.BASELINE),
    VAE_ALIGN("vae-align", "vae-align", TrainSiTStep.WARMUP),
    REPA("repa", "repa", TrainSiTStep.REPA),
    SRA("sra", "sra", TrainSiTStep.SRA),
    REG("reg", "reg", TrainSiTStep.REG),
    SELF_TRANSCENDENCE("self-transcendence", "self-transcendence", TrainSiTStep.STUDENT);

    public final String id;
    public final String pipeline;
    public final String modelStage;

    Recipe(String id, String pipeline, String modelStage) {
        this.id = id;
        this.pipeline = pipeline;
        this.modelStage = modelStage;
    }

    /** Recipes from a comma-separated list of ids, in the order given. */
    public static List<Recipe> parse(String list) {
        List<Recipe> out = new ArrayList<>();
        for (String word : list.split(",")) {
            String w = word.trim();
            if (w.isEmpty()) continue;
            Recipe r = Arrays.stream(values()).filter(v -> v.id.equals(w)).findFirst().orElseThrow(() -> new ConfigException(
                    "compare.recipes names '" + w + "'; accepted: " + Arrays.stream(values()).map(v -> v.id).toList()));
            if (out.contains(r)) throw new ConfigException("compare.recipes names '" + w + "' twice; accepted: each recipe once");
            out.add(r);
        }
        if (out.isEmpty()) throw new ConfigException("compare.recipes is empty; accepted: some of " + Arrays.stream(values()).map(v -> v.id).toList());
        return out;
    }
}
