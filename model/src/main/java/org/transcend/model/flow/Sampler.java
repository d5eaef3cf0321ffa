package org.transcend.model.flow;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.transcend.model.rng.CounterRng;
import org.transcend.model.rng.Purpose;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Integrates a {@link VelocityModel} from noise at t = 1 to data at t = 0, as REPA's samplers do: the ODE
 * {@code dx/dt = v̂} by Euler or Heun over {@code steps} equal steps, or the SDE by Euler–Maruyama on
 * {@code steps} times linear from 1 to {@value #SDE_LAST_TIME} and then one deterministic step to 0, with
 * diffusion {@code w(t) = 2t} and drift {@code d = v̂ − ½·w·s}. Every time of the grid goes through {@code shift}
 * (RAE's time shift; {@link TimeShift#NONE} leaves the grid linear). The state is FLOAT64; the model sees FLOAT32.
 *
 * <p>Sample {@code i} of a call is the sample of index {@code firstIndex + i}: its initial noise is keyed
 * (seed, SAMPLE_NOISE, index, 0) and its SDE noise at step k (seed, SAMPLE_DIFFUSION, index, k), so a
 * sample is the same whichever batch or shard draws it.
 */
public record Sampler(Method method, int steps, Guidance guidance, int nullClass, TimeShift shift) {

    /** The integration scheme. */
    public enum Method { EULER, HEUN, EULER_MARUYAMA }

    /** Where the stochastic steps of the SDE sampler stop (REPA: 0.04). */
    public static final double SDE_LAST_TIME = 0.04;

    public Sampler {
        if (method == null) {
            throw new IllegalArgumentException("a sampling method is required: one of " + Arrays.toString(Method.values()));
        }
        int least = method == Method.EULER_MARUYAMA ? 2 : 1;
        if (steps < least) {
            throw new IllegalArgumentException(method + " needs at least " + least + " steps, got " + steps);
        }
        if (guidance == null) {
            throw new IllegalArgumentException("guidance is required; Guidance.NONE turns it off");
        }
        if (nullClass < 0) {
            throw new IllegalArgumentException("nullClass (= numClasses) must be >= 0, got " + nullClass);
        }
        if (shift == null) {
            throw new IllegalArgumentException("a time shift is required; TimeShift.NONE keeps the grid linear");
        }
    }

    /** A sampler on the linear time grid. */
    public Sampler(Method method, int steps, Guidance guidance, int nullClass) {
        this(method, steps, guidance, nullClass, TimeShift.NONE);
    }

    /**
     * The times the integration visits, from 1 down to 0: {@code steps + 1} points, for the ODE {@code shift(1 − i/steps)},
     * for the SDE {@code shift} of the linear grid from 1 to {@link #SDE_LAST_TIME} and then 0.
     */
    public double[] grid() {
        double[] t = new double[steps + 1];
        for (int i = 0; i < steps; i++) {
            double linear = method == Method.EULER_MARUYAMA ? 1 + (SDE_LAST_TIME - 1) * i / (steps - 1) : 1 - (double) i / steps;
            t[i] = shift.apply(linear);
        }
        t[steps] = 0;
        return t;
    }

    /** Samples for {@code labels} (LONG or INT {@code [N]}), starting from keyed noise; FLOAT64 {@code [N, sampleShape...]}. */
    public INDArray sample(VelocityModel model, INDArray labels, long[] sampleShape, long seed, long firstIndex) {
        return integrate(model, noise(Purpose.SAMPLE_NOISE, 0, labels.length(), sampleShape, seed, firstIndex), labels, seed, firstIndex);
    }

    /** Integrates from the given states {@code x1} at t = 1 (any floating type, {@code [N, ...]}); FLOAT64 result. */
    public INDArray integrate(VelocityModel model, INDArray x1, INDArray labels, long seed, long firstIndex) {
        if (labels.length() != x1.size(0)) {
            throw new IllegalArgumentException(labels.length() + " labels for " + x1.size(0) + " samples; one label per sample is accepted");
        }
        INDArray y = labels.castTo(DataType.LONG).reshape(labels.length());
        INDArray x = x1.castTo(DataType.DOUBLE).dup();
        return method == Method.EULER_MARUYAMA ? stochastic(model, x, y, seed, firstIndex) : ordinary(model, x, y);
    }

    private INDArray ordinary(VelocityModel model, INDArray x, INDArray y) {
        double[] grid = grid();
        for (int i = 0; i < steps; i++) {
            double tCur = grid[i];
            double tNext = grid[i + 1];
            double dt = tNext - tCur;
            INDArray d = direction(model, x, y, tCur, false);
            INDArray euler = x.add(d.mul(dt));
            // REPA's Heun skips the correction on the last step, which ends at t = 0.
            if (method == Method.HEUN && i < steps - 1) {
                INDArray dNext = direction(model, euler, y, tNext, false);
                x.addi(d.addi(dNext).muli(0.5 * dt));
            } else {
                x = euler;
            }
        }
        return x;
    }

    private INDArray stochastic(VelocityModel model, INDArray x, INDArray y, long seed, long firstIndex) {
        long[] sampleShape = Arrays.copyOfRange(x.shape(), 1, x.rank());
        double[] grid = grid();
        for (int i = 0; i < steps - 1; i++) {
            double tCur = grid[i];
            double dt = grid[i + 1] - tCur;
            double w = 2 * tCur;
            INDArray xi = noise(Purpose.SAMPLE_DIFFUSION, i + 1, x.size(0), sampleShape, seed, firstIndex);
            INDArray d = direction(model, x, y, tCur, true);
            x.addi(d.muli(dt)).addi(xi.muli(Math.sqrt(w) * Math.sqrt(Math.abs(dt))));
        }
        double tLast = grid[steps - 1];
        return x.addi(direction(model, x, y, tLast, true).muli(0 - tLast));
    }

    /** The guided velocity (ODE) or drift (SDE) at time t, with CFG's two halves in one model call. */
    private INDArray direction(VelocityModel model, INDArray x, INDArray y, double t, boolean drift) {
        long n = x.size(0);
        boolean cfg = guidance.activeAt(t);
        INDArray input = cfg ? Nd4j.concat(0, x, x) : x;
        INDArray labels = cfg ? Nd4j.concat(0, y, Nd4j.valueArrayOf(new long[]{n}, nullClass, DataType.LONG)) : y;
        long rows = input.size(0);
        INDArray v = model.velocity(input.castTo(DataType.FLOAT), Nd4j.valueArrayOf(new long[]{rows}, (float) t, DataType.FLOAT), labels)
                .castTo(DataType.DOUBLE);
        INDArray d = v;
        if (drift) {
            double w = 2 * t;
            INDArray score = Prediction.score(v, input, Nd4j.valueArrayOf(new long[]{rows}, t, DataType.DOUBLE));
            d = v.sub(score.muli(0.5 * w));
        }
        if (!cfg) {
            return d;
        }
        INDArray conditional = d.get(NDArrayIndex.interval(0, n));
        INDArray unconditional = d.get(NDArrayIndex.interval(n, 2 * n));
        return unconditional.add(conditional.sub(unconditional).muli(guidance.scale()));
    }

    private static INDArray noise(Purpose purpose, long slot, long n, long[] sampleShape, long seed, long firstIndex) {
        List<CounterRng> keys = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            keys.add(new CounterRng(seed, purpose, firstIndex + i, slot));
        }
        return CounterRng.normalRows(keys, DataType.DOUBLE, sampleShape);
    }
}
