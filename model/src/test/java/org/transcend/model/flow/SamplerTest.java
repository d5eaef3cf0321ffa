package org.transcend.model.flow;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.Sampler.Method;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Drives the samplers with the exact velocity field of Gaussian data. For x0 ~ N(μ, σ²) per dimension,
 * x_t = a·x0 + t·ε with a = 1 − t, so x_t ~ N(aμ, V), V = a²σ² + t², and Cov(ε − x0, x_t) = t − aσ²:
 * E[ε − x0 | x_t] = k·x_t + c with k = (t − aσ²)/V, c = −μ(1 + a·k). Every step of every sampler is then
 * affine in x, so the exact mean and variance of what the discretised sampler produces follow from a
 * scalar recurrence ({@link Moments}). Each test checks (1) the sampler's empirical moments against that
 * recurrence within 5 Monte-Carlo standard errors, and (2) the recurrence against the data's μ, σ², the
 * discretisation error, within the bounds stated per method.
 */
class SamplerTest {

    private static final int N = 4096;
    private static final double[] MU = {1.0, -2.0, 0.5};
    private static final double[] SIGMA = {0.5, 1.0, 2.0};

    /** Velocity of per-class Gaussians N(means[class], σ²); the last row of {@code means} is the null class. */
    private record GaussianVelocity(double[][] means, double[] sigma, AtomicLong rows) implements VelocityModel {
        @Override
        public INDArray velocity(INDArray x, INDArray t, INDArray labels) {
            rows.addAndGet(x.size(0));
            assertEquals(DataType.FLOAT, x.dataType());
            int n = (int) x.size(0), dims = (int) x.size(1);
            double[] xs = x.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            double[] ts = t.toDoubleVector();
            long[] ys = labels.toLongVector();
            double[] out = new double[n * dims];
            for (int i = 0; i < n; i++) {
                double[] mu = means[(int) ys[i]];
                for (int j = 0; j < dims; j++) {
                    double[] kc = affine(ts[i], mu[j], sigma[j]);
                    out[i * dims + j] = kc[0] * xs[i * dims + j] + kc[1];
                }
            }
            return Nd4j.create(out, new long[]{n, dims}, DataType.DOUBLE);
        }
    }

    /** {k, c} of the exact velocity k·x + c at time t. */
    private static double[] affine(double t, double mu, double sigma) {
        double a = 1 - t;
        double v = a * a * sigma * sigma + t * t;
        double k = (t - a * sigma * sigma) / v;
        return new double[]{k, -mu * (1 + a * k)};
    }

    /** The exact mean and variance after the discretised sampler, for one dimension. */
    private static double[] moments(Sampler s, double muCond, double muNull, double sigma) {
        double m = 0, var = 1;
        int steps = s.steps();
        boolean sde = s.method() == Method.EULER_MARUYAMA;
        for (int i = 0; i < steps; i++) {
            double tCur = sde ? 1 + (Sampler.SDE_LAST_TIME - 1) * i / (steps - 1) : 1 - (double) i / steps;
            double tNext = sde ? (i == steps - 1 ? 0 : 1 + (Sampler.SDE_LAST_TIME - 1) * (i + 1) / (steps - 1)) : 1 - (double) (i + 1) / steps;
            double dt = tNext - tCur;
            double[] d0 = direction(s, tCur, muCond, muNull, sigma, sde);
            double gain, shift;
            if (s.method() == Method.HEUN && i < steps - 1) {
                double[] d1 = direction(s, tNext, muCond, muNull, sigma, false);
                gain = 1 + dt / 2 * (d0[0] + d1[0] * (1 + dt * d0[0]));
                shift = dt / 2 * (d0[1] + d1[0] * dt * d0[1] + d1[1]);
            } else {
                gain = 1 + dt * d0[0];
                shift = dt * d0[1];
            }
            m = gain * m + shift;
            var = gain * gain * var + (sde && i < steps - 1 ? 2 * tCur * Math.abs(dt) : 0);
        }
        return new double[]{m, var};
    }

    /** {slope, intercept} of the guided velocity (ODE) or drift d = (2 − t)·v + x (SDE) at t. */
    private static double[] direction(Sampler s, double t, double muCond, double muNull, double sigma, boolean sde) {
        double[] c = affine(t, muCond, sigma);
        double[] u = affine(t, muNull, sigma);
        double intercept = s.guidance().activeAt(t) ? u[1] + s.guidance().scale() * (c[1] - u[1]) : c[1];
        return sde ? new double[]{(2 - t) * c[0] + 1, (2 - t) * intercept} : new double[]{c[0], intercept};
    }

    /** The discretised mean path is exact (at x = aμ every scheme steps along v = −μ), so only rounding is allowed. */
    private static final double MEAN_BOUND = 1e-9;

    /** Relative variance error of the recurrence, measured at these step counts over σ ∈ {0.5, 1, 2}, rounded up. */
    private static double varianceBound(Method method) {
        return switch (method) {
            case EULER -> 0.06;            // first order, 50 steps: −5.0% to −5.8%
            case HEUN -> 0.0015;           // second order, 50 steps (last step Euler): −0.04% to −0.13%
            case EULER_MARUYAMA -> 0.025;  // 250 steps and the jump from t = 0.04: −0.9% to −2.25%
        };
    }

    private static void assertMatches(Sampler s, INDArray x, double[][] means, int label) {
        for (int j = 0; j < x.size(1); j++) {
            INDArray col = x.getColumn(j);
            double mean = col.meanNumber().doubleValue();
            double var = col.varNumber().doubleValue();
            double[] exact = moments(s, means[label][j], means[means.length - 1][j], SIGMA[j]);
            String where = s.method() + " dim " + j + ": sample (" + mean + ", " + var + ") discrete (" + exact[0] + ", " + exact[1] + ")";
            assertEquals(exact[0], mean, 5 * Math.sqrt(exact[1] / x.size(0)), where);
            assertEquals(exact[1], var, 5 * exact[1] * Math.sqrt(2.0 / (x.size(0) - 1)), where);
            double target = s.guidance().activeAt(0.5) && s.guidance().window().equals(TimeWindow.ALL)
                    ? means[2][j] + s.guidance().scale() * (means[label][j] - means[2][j]) : means[label][j];
            assertEquals(target, exact[0], MEAN_BOUND * SIGMA[j], where);
            assertEquals(1, exact[1] / (SIGMA[j] * SIGMA[j]), varianceBound(s.method()), where);
        }
    }

    private static INDArray labels(int n, long label) {
        return Nd4j.valueArrayOf(new long[]{n}, label, DataType.LONG);
    }

    @Test
    void eachSamplerLandsOnTheGaussianDataMoments() {
        double[][] means = {MU, MU, MU};
        Sampler[] samplers = {
                new Sampler(Method.EULER, 50, Guidance.NONE, 2),
                new Sampler(Method.HEUN, 50, Guidance.NONE, 2),
                new Sampler(Method.EULER_MARUYAMA, 250, Guidance.NONE, 2),
        };
        for (Sampler s : samplers) {
            AtomicLong rows = new AtomicLong();
            INDArray x = s.sample(new GaussianVelocity(means, SIGMA, rows), labels(N, 0), new long[]{3}, 7, 0);
            assertEquals(DataType.DOUBLE, x.dataType());
            assertArrayEquals(new long[]{N, 3}, x.shape());
            long evaluations = s.method() == Method.HEUN ? 2L * s.steps() - 1 : s.steps();
            assertEquals(evaluations * N, rows.get(), "model rows for " + s.method());
            assertMatches(s, x, means, 0);
        }
    }

    /**
     * Two classes with means −1 and +2 and a null model at their midpoint 0.5 with the same σ: the guided
     * velocity is then exactly the velocity of N(μ_u + s(μ_c − μ_u), σ²), so full-window guidance at s = 3
     * lands class 1 on 0.5 + 3·1.5 = 5 and class 0 on 0.5 − 3·1.5 = −4. With the window [0, 0.65] the
     * recurrence gives the target; the model sees 2N rows exactly at the steps inside the window.
     */
    @Test
    void guidanceMovesEachClassAwayFromTheNullModelInsideItsWindowOnly() {
        double[][] means = {{-1, -1, -1}, {2, 2, 2}, {0.5, 0.5, 0.5}};
        for (Method method : Method.values()) {
            Sampler full = new Sampler(method, method == Method.EULER_MARUYAMA ? 250 : 50, new Guidance(3, TimeWindow.ALL), 2);
            for (int label = 0; label < 2; label++) {
                INDArray x = full.sample(new GaussianVelocity(means, SIGMA, new AtomicLong()), labels(N, label), new long[]{3}, 11, 0);
                assertMatches(full, x, means, label);
            }
        }
        Sampler windowed = new Sampler(Method.EULER, 50, new Guidance(3, new TimeWindow(0, 0.65)), 2);
        AtomicLong rows = new AtomicLong();
        INDArray x = windowed.sample(new GaussianVelocity(means, SIGMA, rows), labels(N, 1), new long[]{3}, 11, 0);
        // Steps start at t = 1 − i/50; those with t ≤ 0.65 are i = 18..49.
        assertEquals(18L * N + 32L * 2 * N, rows.get());
        for (int j = 0; j < 3; j++) {
            double[] exact = moments(windowed, 2, 0.5, SIGMA[j]);
            assertEquals(exact[0], x.getColumn(j).meanNumber().doubleValue(), 5 * Math.sqrt(exact[1] / N));
            assertTrue(exact[0] > 2.5 && exact[0] < 5, "windowed guidance should land between 2 and 5, got " + exact[0]);
        }
    }

    @Test
    void aSampleIsTheSameWhicheverBatchDrawsIt() {
        double[][] means = {MU, MU, MU};
        Sampler s = new Sampler(Method.EULER_MARUYAMA, 20, new Guidance(2, new TimeWindow(0.2, 0.8)), 2);
        VelocityModel model = new GaussianVelocity(means, SIGMA, new AtomicLong());
        INDArray all = s.sample(model, labels(8, 0), new long[]{3}, 5, 100);
        assertEquals(all, s.sample(model, labels(8, 0), new long[]{3}, 5, 100));
        INDArray part = s.sample(model, labels(3, 0), new long[]{3}, 5, 102);
        for (int i = 0; i < 3; i++) {
            assertEquals(all.getRow(i + 2), part.getRow(i));
        }
        assertNotEquals(all, s.sample(model, labels(8, 0), new long[]{3}, 6, 100));
    }
}
