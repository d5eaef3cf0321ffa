package org.transcend.pipelines.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Every configuration key of the pipeline, in one place: default, accepted values and meaning. */
public final class Catalog {
    private Catalog() {}

    public static final List<String> PRESETS = List.of("fmnist-quick");

    public static final Map<String, Setting> ALL = new LinkedHashMap<>();

    private static Setting add(Setting s) {
        ALL.put(s.key(), s);
        return s;
    }

    // ---- data (ImportImages) ----
    public static final Setting DATA_SOURCE = add(Setting.choice("data.source", "fashion-mnist",
            List.of("fashion-mnist", "image-folder", "cifar10"), "Dataset format."));
    public static final Setting DATA_PATH = add(Setting.text("data.path", "/usr/share/datasets/fashion-mnist",
            "Dataset location: a directory, local or gs://."));
    public static final Setting DATA_SPLIT = add(Setting.choice("data.split", "train", List.of("train", "test"),
            "Which split to train on."));
    public static final Setting DATA_LIMIT = add(Setting.integer("data.limit", 0, 0, Long.MAX_VALUE,
            "Keep only the first N images of the split; 0 keeps all."));
    public static final Setting DATA_RESOLUTION = add(Setting.integer("data.resolution", 32, 8, 1024,
            "Image folders only: images are centre-cropped to a square and resized to this size."));
    public static final Setting DATA_CHANNELS = add(Setting.integer("data.channels", 3, 1, 3,
            "Image folders only: 1 (luminance) or 3 (RGB)."));
    public static final Setting DATA_SHARDS = add(Setting.integer("data.shards", 4, 1, 4096,
            "Parallel read shards (does not change the imported records)."));

    // ---- run ----
    public static final Setting RUN_SEED = add(Setting.integer("run.seed", 0, 0, Long.MAX_VALUE,
            "Seed of every random draw of the run (the training plan, initialisation, sampling)."));

    /** Checks between keys that no single key can check alone. */
    static void checkConsistency(Settings s) {
        if (s.getInt(DATA_CHANNELS.key()) == 2) {
            throw new ConfigException("data.channels is 2; accepted: 1, 3");
        }
    }
}
