package org.transcend.model.plan;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.flow.TimeDistribution;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TrainingPlanTest {

    private static TrainingPlan plan(long seed, long datasetSize, int batchSize) {
        return new TrainingPlan(seed, datasetSize, batchSize, new TimeDistribution.Uniform(), TrainingPlan.LABEL_DROP, 10);
    }

    @Test
    void everyExampleIsSeenExactlyOncePerEpochForAnySize() {
        for (long size : new long[]{1, 2, 3, 7, 64, 100, 1000, 4097, 60000}) {
            TrainingPlan p = plan(17, size, 32);
            for (long epoch : new long[]{0, 1, 5}) {
                boolean[] seen = new boolean[(int) size];
                int fixedPoints = 0;
                for (long pos = 0; pos < size; pos++) {
                    long idx = p.exampleIndex(epoch, pos);
                    fixedPoints += idx == pos ? 1 : 0;
                    assertTrue(idx >= 0 && idx < size, "index " + idx + " outside [0, " + size + ")");
                    assertFalse(seen[(int) idx], "index " + idx + " hit twice in epoch " + epoch + " of size " + size);
                    seen[(int) idx] = true;
                }
                // A random permutation has one fixed point on average (Poisson(1)); a weak shuffle has many.
                assertTrue(size < 100 || fixedPoints < 8, fixedPoints + " fixed points in epoch " + epoch + " of size " + size);
            }
        }
    }

    @Test
    void slotsWalkThroughEpochsInPlanOrder() {
        TrainingPlan p = plan(3, 10, 4);
        // Global position step·4 + slot: position 9 is the last of epoch 0, position 10 the first of epoch 1.
        assertEquals(0, p.slot(2, 1).epoch());
        assertEquals(1, p.slot(2, 2).epoch());
        assertEquals(p.exampleIndex(1, 0), p.slot(2, 2).exampleIndex());
        assertEquals(p.exampleIndex(0, 9), p.slot(2, 1).exampleIndex());
        boolean[] seen = new boolean[10];
        for (int step = 5; step < 8; step++) {
            for (TrainingPlan.Slot s : p.batch(step)) {
                if (s.epoch() == 2) {
                    seen[(int) s.exampleIndex()] = true;
                }
            }
        }
        // Positions 20..29 lie in steps 5..7 and form epoch 2.
        for (boolean b : seen) {
            assertTrue(b);
        }
        assertNotEquals(orderOf(p, 0), orderOf(p, 1), "consecutive epochs should be shuffled differently");
        assertNotEquals(orderOf(p, 0), orderOf(plan(4, 10, 4), 0), "another seed should give another order");
    }

    private static List<Long> orderOf(TrainingPlan p, long epoch) {
        return java.util.stream.LongStream.range(0, p.datasetSize()).map(i -> p.exampleIndex(epoch, i)).boxed().toList();
    }

    @Test
    void theSamePlanGivesTheSameSlotsAndTensorsEveryTime() {
        TrainingPlan a = new TrainingPlan(99, 500, 8, new TimeDistribution.LogitNormal(0, 1), 0.1, 10);
        TrainingPlan b = new TrainingPlan(99, 500, 8, new TimeDistribution.LogitNormal(0, 1), 0.1, 10);
        assertEquals(a.batch(123), b.batch(123));
        assertEquals(TrainingPlan.noise(a.batch(123), 4, 2, 2), TrainingPlan.noise(b.batch(123), 4, 2, 2));
        assertNotEquals(a.slot(123, 0).t(), a.slot(124, 0).t());
        assertEquals(a.specification(), b.specification());
        assertNotEquals(a.specification(), plan(99, 500, 8).specification());
        assertEquals("logit-normal(0.0,1.0)", a.specification().get("timeDistribution"));
    }

    @Test
    void aSlotsTensorsAreTheSameDrawnAloneOrInItsBatch() {
        TrainingPlan p = plan(5, 50, 6);
        List<TrainingPlan.Slot> batch = p.batch(7);
        INDArray noise = TrainingPlan.noise(batch, 3, 2, 2);
        INDArray posterior = TrainingPlan.posteriorNoise(batch, 3, 2, 2);
        INDArray times = TrainingPlan.times(batch);
        assertArrayEquals(new long[]{6, 3, 2, 2}, noise.shape());
        for (int i = 0; i < 6; i++) {
            List<TrainingPlan.Slot> alone = List.of(p.slot(7, i));
            assertEquals(TrainingPlan.noise(alone, 3, 2, 2).slice(0), noise.slice(i));
            assertEquals(TrainingPlan.posteriorNoise(alone, 3, 2, 2).slice(0), posterior.slice(i));
            assertEquals((float) p.slot(7, i).t(), times.getFloat(i), 0f);
        }
        assertNotEquals(noise.slice(0), noise.slice(1));
        assertNotEquals(noise, posterior);
    }

    /** Over 20,000 slots: label-drop rate standard error 0.0021, uniform-t mean standard error 0.0020; bounds are 5 of them. */
    @Test
    void labelsDropAtTheConfiguredRateAndTimesAreUniform() {
        TrainingPlan p = plan(8, 1000, 100);
        int dropped = 0, n = 0;
        double sum = 0, sq = 0;
        for (int step = 0; step < 200; step++) {
            for (TrainingPlan.Slot s : p.batch(step)) {
                n++;
                dropped += s.labelDropped() ? 1 : 0;
                sum += s.t();
                sq += s.t() * s.t();
                assertEquals(s.labelDropped() ? 10 : 3, p.conditioningLabel(s, 3));
            }
        }
        assertEquals(0.1, (double) dropped / n, 5 * Math.sqrt(0.09 / n));
        assertEquals(0.5, sum / n, 5 * Math.sqrt(1.0 / 12 / n));
        assertEquals(1.0 / 3, sq / n, 5 * Math.sqrt(4.0 / 45 / n));
    }

    @Test
    void refusesSlotsOutsideTheBatchAndBadSettings() {
        TrainingPlan p = plan(1, 10, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.slot(0, 4));
        assertTrue(e.getMessage().contains("slots in [0, 4)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> plan(1, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> new TrainingPlan(1, 10, 4, new TimeDistribution.Uniform(), 1.0, 10));
        assertThrows(IllegalArgumentException.class, () -> p.conditioningLabel(p.slot(0, 0), 10));
    }

    @Test
    void sraTeacherTimesLieUpToTheGapBelowTAndAreKeyedByTheSlot() {
        TrainingPlan p = plan(5, 1000, 256);
        List<TrainingPlan.Slot> slots = p.batch(3);
        INDArray teacher = p.teacherTimes(slots, 0.2);
        double meanGap = 0;
        int clamped = 0;
        for (int i = 0; i < slots.size(); i++) {
            double t = (float) slots.get(i).t(), tPrime = teacher.getDouble(i);
            assertTrue(tPrime <= t && tPrime >= Math.max(0, t - 0.2) - 1e-7, "t " + t + ", t' " + tPrime);
            if (tPrime == 0) clamped++;
            else meanGap += t - tPrime;
        }
        meanGap /= slots.size() - clamped;
        // the gap is U[0, 0.2): mean 0.1, standard error 0.2/√12/√256 ≈ 0.0036
        assertEquals(0.1, meanGap, 0.02);
        assertEquals(teacher, p.teacherTimes(p.batch(3), 0.2), "the same slots draw the same gap");
        assertEquals(p.times(slots), p.teacherTimes(slots, 0), "no gap, no change");
        assertNotEquals(teacher, plan(6, 1000, 256).teacherTimes(plan(6, 1000, 256).batch(3), 0.2));
    }

    @Test
    void regsGlobalNoiseIsStandardNormalKeyedBySlotAndApartFromTheImageNoise() {
        TrainingPlan p = plan(5, 1000, 256);
        List<TrainingPlan.Slot> slots = p.batch(3);
        INDArray eps = p.globalNoise(slots, 64);
        assertArrayEquals(new long[]{256, 64}, eps.shape());
        // 16384 standard normals: mean within 4 standard errors (0.0078 each) of 0, variance near 1
        assertEquals(0, eps.meanNumber().doubleValue(), 0.032);
        assertEquals(1, eps.varNumber().doubleValue(), 0.05);
        assertEquals(eps, p.globalNoise(p.batch(3), 64), "the same slots draw the same noise");
        assertEquals(eps.getRow(7), p.globalNoise(List.of(slots.get(7)), 64).getRow(0), "a row depends on its slot alone");
        assertNotEquals(eps, TrainingPlan.noise(slots, 64), "its own stream, not the image's ε");
        assertNotEquals(eps, p.globalNoise(p.batch(4), 64));
    }
}
