package org.transcend.model.rng;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.List;

/**
 * The project's one random number generator: a counter-based stream keyed by (run seed, purpose, step,
 * slot), so element {@code i} of a stream is a pure function of the key and {@code i}, identical on every
 * machine, backend and worker and independent of what else was drawn before.
 *
 * <p>The key is hashed with the SplitMix64 finaliser into a stream origin; element {@code i} is then the
 * {@code (i+1)}-th output of SplitMix64 started at that origin. Normals use Box–Muller on the uniform pair
 * {@code (2⌊i/2⌋, 2⌊i/2⌋+1)} with {@link StrictMath} so that every JVM computes the same bits.
 *
 * <p>For sampling, {@code step} is the sample's index and {@code slot} the integration step.
 */
public record CounterRng(long seed, Purpose purpose, long step, long slot) {

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final double TWO_PI = 2 * Math.PI;
    private static final double UNIT = 0x1.0p-53;

    public CounterRng {
        if (purpose == null) {
            throw new IllegalArgumentException("purpose must be one of " + Arrays.toString(Purpose.values()));
        }
    }

    /** The SplitMix64 output function (Stafford's variant 13): a bijection of 64-bit words. */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The same key with another slot: for per-step sub-streams. */
    public CounterRng withSlot(long newSlot) {
        return new CounterRng(seed, purpose, step, newSlot);
    }

    /** Where this key's SplitMix64 sequence starts. */
    private long origin() {
        long h = mix(seed + GOLDEN);
        h = mix(h ^ mix(purpose.code + GOLDEN));
        h = mix(h ^ mix(step + 2 * GOLDEN));
        return mix(h ^ mix(slot + 3 * GOLDEN));
    }

    private static long bits(long origin, long counter) {
        return mix(origin + (counter + 1) * GOLDEN);
    }

    private static double uniform(long origin, long counter) {
        return (bits(origin, counter) >>> 11) * UNIT;
    }

    /** 64 random bits, element {@code counter} of the stream. */
    public long bits(long counter) {
        return bits(origin(), counter);
    }

    /** A uniform double in [0, 1) with 53 random bits, element {@code counter} of the stream. */
    public double uniform(long counter) {
        return uniform(origin(), counter);
    }

    /** A standard normal, element {@code counter} of the normal stream (shares uniforms with its Box–Muller partner). */
    public double normal(long counter) {
        long pair = counter >>> 1;
        long origin = origin();
        double radius = radius(uniform(origin, 2 * pair));
        double angle = TWO_PI * uniform(origin, 2 * pair + 1);
        return (counter & 1) == 0 ? radius * StrictMath.cos(angle) : radius * StrictMath.sin(angle);
    }

    // 1 - u lies in (0, 1], so the logarithm is finite.
    private static double radius(double u) {
        return StrictMath.sqrt(-2 * StrictMath.log(1 - u));
    }

    /** Fills {@code out} with normals 0, 1, 2, ... of this stream (the same values as {@link #normal(long)}). */
    public void fillNormal(double[] out) {
        fillNormal(out, 0, out.length);
    }

    /** Fills {@code out[from, from + length)} with normals 0, 1, ..., length − 1 of this stream. */
    public void fillNormal(double[] out, int from, int length) {
        long origin = origin();
        for (int i = 0; i < length; i += 2) {
            double radius = radius(uniform(origin, i));
            double angle = TWO_PI * uniform(origin, i + 1);
            out[from + i] = radius * StrictMath.cos(angle);
            if (i + 1 < length) {
                out[from + i + 1] = radius * StrictMath.sin(angle);
            }
        }
    }

    /** Fills {@code out} with normals 0, 1, 2, ... of this stream, rounded to float. */
    public void fillNormal(float[] out) {
        fillNormal(out, 0, out.length);
    }

    /** Fills {@code out[from, from + length)} with normals 0, 1, ..., length − 1 of this stream, rounded to float. */
    public void fillNormal(float[] out, int from, int length) {
        long origin = origin();
        for (int i = 0; i < length; i += 2) {
            double radius = radius(uniform(origin, i));
            double angle = TWO_PI * uniform(origin, i + 1);
            out[from + i] = (float) (radius * StrictMath.cos(angle));
            if (i + 1 < length) {
                out[from + i + 1] = (float) (radius * StrictMath.sin(angle));
            }
        }
    }

    /** Normals 0, 1, 2, ... of this stream in C order as a FLOAT or DOUBLE array of the given shape. */
    public INDArray normal(DataType type, long... shape) {
        return normalRows(List.of(this), type, shape).reshape(shape);
    }

    /**
     * One row per key, each row the key's normals 0, 1, ... in C order of {@code sampleShape}: a FLOAT or
     * DOUBLE array {@code [keys, sampleShape...]} whose row i depends on key i alone.
     */
    public static INDArray normalRows(List<CounterRng> keys, DataType type, long... sampleShape) {
        long per = 1;
        for (long s : sampleShape) {
            per *= s;
        }
        if (per * keys.size() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(keys.size() + " rows of shape " + Arrays.toString(sampleShape)
                    + " exceed one array's " + Integer.MAX_VALUE + " elements");
        }
        int length = (int) per;
        long[] shape = new long[sampleShape.length + 1];
        shape[0] = keys.size();
        System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
        if (type == DataType.DOUBLE) {
            double[] values = new double[length * keys.size()];
            for (int i = 0; i < keys.size(); i++) {
                keys.get(i).fillNormal(values, i * length, length);
            }
            return Nd4j.create(values, shape, DataType.DOUBLE);
        }
        if (type == DataType.FLOAT) {
            float[] values = new float[length * keys.size()];
            for (int i = 0; i < keys.size(); i++) {
                keys.get(i).fillNormal(values, i * length, length);
            }
            return Nd4j.create(values, shape, DataType.FLOAT);
        }
        throw new IllegalArgumentException("normal arrays are drawn as FLOAT or DOUBLE, not " + type);
    }
}
