package org.transcend.model.flow;

/** Classifier-free guidance {@code d = d_u + scale·(d_c − d_u)}, applied only while t lies in {@code window}. */
public record Guidance(double scale, TimeWindow window) {

    /** No guidance: the conditional model alone, one model call per step. */
    public static final Guidance NONE = new Guidance(1, TimeWindow.ALL);

    public Guidance {
        if (!Double.isFinite(scale)) {
            throw new IllegalArgumentException("guidance scale must be finite, got " + scale);
        }
        if (window == null) {
            throw new IllegalArgumentException("a guidance window is required, e.g. TimeWindow.ALL");
        }
    }

    /** Whether this step needs the unconditional half; a scale of 1 is the conditional model exactly. */
    public boolean activeAt(double t) {
        return scale != 1 && window.contains(t);
    }
}
