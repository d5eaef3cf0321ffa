package org.transcend.model.flow;

import org.junit.jupiter.api.Test;
import org.transcend.model.rng.CounterRng;
import org.transcend.model.rng.Purpose;

import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

class TimeShiftTest {

    @Test
    void theShiftFollowsRaesFormulaAndKeepsTheEnds() {
        TimeShift s = new TimeShift(3);
        assertEquals(0.0, s.apply(0));
        assertEquals(1.0, s.apply(1));
        assertEquals(3 * 0.25 / (1 + 2 * 0.25), s.apply(0.25), 1e-15);
        assertEquals(0.75, s.apply(0.5), 1e-15, "α = 3 takes the midpoint to 3/4, towards noise");
        double previous = -1;
        for (int i = 0; i <= 100; i++) {
            double t = s.apply(i / 100.0);
            assertTrue(t > previous && t >= i / 100.0, "monotone and above the identity at " + i);
            previous = t;
        }
        for (double t : new double[]{0, 0.1, 0.37, 0.9, 1}) assertEquals(t, TimeShift.NONE.apply(t), 0.0);
    }

    @Test
    void alphaIsTheRootOfTheDimensionRatio() {
        // SiT on ImageNet 256: 4·32·32 = 4096 latent values, RAE's base dimension 4096, so no shift
        assertTrue(TimeShift.forDimensions(4096, 4096).isIdentity());
        // RAE's DINOv2-B latents 768·16·16 against 4096: α = √48
        assertEquals(Math.sqrt(48), TimeShift.forDimensions(768L * 16 * 16, 4096).alpha(), 1e-12);
        assertEquals(0.5, TimeShift.forDimensions(4 * 8 * 8, 1024).alpha(), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> new TimeShift(0));
        assertThrows(IllegalArgumentException.class, () -> TimeShift.forDimensions(0, 4096));
    }

    @Test
    void aShiftedDistributionShiftsEachDrawAndItsSpecificationReadsBack() {
        TimeDistribution base = new TimeDistribution.LogitNormal(0, 1);
        TimeShift shift = new TimeShift(2.5);
        TimeDistribution shifted = TimeDistribution.shifted(base, shift);
        for (int i = 0; i < 100; i++) {
            CounterRng stream = new CounterRng(3, Purpose.TIME, i, 0);
            assertEquals(shift.apply(base.time(stream)), shifted.time(stream), 0.0);
        }
        assertEquals("logit-normal(0.0,1.0)+shift(2.5)", shifted.specification());
        assertEquals(shifted, TimeDistribution.parse(shifted.specification()));
        assertSame(base, TimeDistribution.shifted(base, TimeShift.NONE), "no shift leaves the distribution and its cache key alone");
    }

    @Test
    void theSamplerVisitsTheShiftedGridAndTheLinearOneWithoutAShift() {
        Sampler linear = new Sampler(Sampler.Method.EULER, 4, Guidance.NONE, 2);
        assertArrayEquals(new double[]{1, 0.75, 0.5, 0.25, 0}, linear.grid(), 0.0);
        TimeShift shift = new TimeShift(2);
        Sampler shifted = new Sampler(Sampler.Method.EULER, 4, Guidance.NONE, 2, shift);
        double[] expected = {1, shift.apply(0.75), shift.apply(0.5), shift.apply(0.25), 0};
        assertArrayEquals(expected, shifted.grid(), 1e-15);
        Sampler sde = new Sampler(Sampler.Method.EULER_MARUYAMA, 3, Guidance.NONE, 2, shift);
        assertArrayEquals(new double[]{1, shift.apply(0.52), shift.apply(Sampler.SDE_LAST_TIME), 0}, sde.grid(), 1e-12);

        // the model is called at exactly those times
        double[] seen = new double[4];
        AtomicInteger calls = new AtomicInteger();
        VelocityModel recorder = (x, t, labels) -> {
            seen[calls.getAndIncrement()] = t.getDouble(0);
            return x.mul(0);
        };
        shifted.sample(recorder, org.nd4j.linalg.factory.Nd4j.createFromArray(0L), new long[]{2}, 1, 0);
        for (int i = 0; i < 4; i++) assertEquals(expected[i], seen[i], 1e-6, "call " + i);
    }
}
