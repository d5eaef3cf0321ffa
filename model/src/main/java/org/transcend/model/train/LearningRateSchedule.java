package org.transcend.model.train;

import java.util.Arrays;
import java.util.Locale;

/**
 * How the learning rate moves over a run of {@code total} updates: held constant, or a half cosine from the base
 * rate towards 0 (SGDR without restarts), which lets a short CPU run settle into the minimum it has found instead
 * of rattling around it at the full rate.
 */
public enum LearningRateSchedule {
    CONSTANT,
    COSINE;

    /** The multiplier of the base rate for the update that follows {@code completed} updates out of {@code total}. */
    public double factor(long completed, long total) {
        if (this == CONSTANT || total <= 0) return 1.0;
        double progress = Math.min(1.0, (double) completed / total);
        return 0.5 * (1 + Math.cos(Math.PI * progress));
    }

    /** The name users write ({@code constant}, {@code cosine}). */
    public String settingName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static LearningRateSchedule parse(String name) {
        return Arrays.stream(values()).filter(v -> v.settingName().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown learning-rate schedule '" + name
                        + "'; accepted: constant, cosine"));
    }
}
