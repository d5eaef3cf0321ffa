package org.transcend.model.rng;

/**
 * What a random stream is for; part of every {@link CounterRng} key so that no two uses of randomness
 * share numbers. Each purpose has a fixed code, not its ordinal, so adding purposes never changes
 * the numbers drawn for existing ones.
 */
public enum Purpose {
    EXAMPLE_ORDER(1),
    TIME(2),
    NOISE(3),
    POSTERIOR(4),
    LABEL_DROP(5),
    SAMPLE_NOISE(6),
    TIME_SHIFT(7),
    INIT(8),
    SAMPLE_DIFFUSION(9),
    /** SRA's draw of how much less noise its EMA teacher sees: t' = max(0, t − gap·U). */
    TEACHER_TIME_GAP(10),
    /** REG's noise ε_g of the global feature: g_t = (1 − t)·g + t·ε_g. */
    GLOBAL_NOISE(11);

    /** The stable number mixed into the key. */
    public final int code;

    Purpose(int code) {
        this.code = code;
    }
}
