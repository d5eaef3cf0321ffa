package org.transcend.model.flow;

import org.junit.jupiter.api.Test;
import org.transcend.model.rng.CounterRng;
import org.transcend.model.rng.Purpose;

import static org.junit.jupiter.api.Assertions.*;

class TimeDistributionTest {

    private static final int N = 100_000;

    private static double[] moments(TimeDistribution d) {
        double sum = 0, sq = 0;
        for (int i = 0; i < N; i++) {
            double t = d.time(new CounterRng(11, Purpose.TIME, i, 0));
            assertTrue(t >= 0 && t <= 1, "t outside [0, 1]: " + t);
            sum += t;
            sq += t * t;
        }
        double mean = sum / N;
        return new double[]{mean, sq / N - mean * mean};
    }

    /** Tolerances are 5 standard errors of the mean and of the variance for N = 1e5 draws. */
    @Test
    void uniformTimesHaveMeanOneHalfAndVarianceOneTwelfth() {
        double[] m = moments(new TimeDistribution.Uniform());
        assertEquals(0.5, m[0], 5 * Math.sqrt(1.0 / 12 / N));
        assertEquals(1.0 / 12, m[1], 5 * Math.sqrt((1.0 / 80 - 1.0 / 144) / N));
    }

    /** The reference moments come from integrating sigmoid(m + s·z) against the normal density (Simpson, 1e4 panels). */
    @Test
    void logitNormalTimesHaveTheIntegratedMoments() {
        TimeDistribution d = new TimeDistribution.LogitNormal(0.3, 1.2);
        double[] exact = integratedMoments(0.3, 1.2);
        double[] m = moments(d);
        assertEquals(exact[0], m[0], 5 * Math.sqrt(exact[1] / N));
        assertEquals(exact[1], m[1], 5 * Math.sqrt(2 * exact[1] * exact[1] / N));
        assertNotEquals(0.5, exact[0], 0.03);
    }

    private static double[] integratedMoments(double mean, double std) {
        int panels = 10_000;
        double lo = -10, h = 20.0 / panels, m1 = 0, m2 = 0;
        for (int i = 0; i <= panels; i++) {
            double z = lo + i * h;
            double w = (i == 0 || i == panels ? 1 : i % 2 == 1 ? 4 : 2) * h / 3 * Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI);
            double t = 1 / (1 + Math.exp(-(mean + std * z)));
            m1 += w * t;
            m2 += w * t * t;
        }
        return new double[]{m1, m2 - m1 * m1};
    }

    @Test
    void specificationsParseBackToTheSameDistribution() {
        TimeDistribution ln = new TimeDistribution.LogitNormal(-0.4, 1.0);
        assertEquals(ln, TimeDistribution.parse(ln.specification()));
        assertEquals(new TimeDistribution.Uniform(), TimeDistribution.parse(" uniform "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TimeDistribution.parse("beta(1,2)"));
        assertTrue(e.getMessage().contains("accepted: uniform, logit-normal(mean,std)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TimeDistribution.parse("logit-normal(0,-1)"));
    }
}
