package org.transcend.model.rng;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import static org.junit.jupiter.api.Assertions.*;

class CounterRngTest {

    private static final CounterRng KEY = new CounterRng(42, Purpose.NOISE, 7, 5);

    /** Values from an independent Python transcription of the key hash and SplitMix64 (arbitrary-precision ints). */
    @Test
    void drawsTheSameBitsAsTheReferenceTranscription() {
        assertEquals(-4049495402229513177L, KEY.bits(0));
        assertEquals(9011742907799352283L, KEY.bits(1));
        assertEquals(-3323504141533925284L, KEY.bits(2));
        assertEquals(0.780476414371635, KEY.uniform(0), 0.0);
        assertEquals(0.4885275619258447, KEY.uniform(1), 0.0);
        assertEquals(-1.7369113553910525, KEY.normal(0), 1e-15);
        assertEquals(0.12541987391451745, KEY.normal(1), 1e-15);
    }

    @Test
    void everyKeyComponentChangesTheStream() {
        long base = KEY.bits(0);
        assertNotEquals(base, new CounterRng(43, Purpose.NOISE, 7, 5).bits(0));
        assertNotEquals(base, new CounterRng(42, Purpose.POSTERIOR, 7, 5).bits(0));
        assertNotEquals(base, new CounterRng(42, Purpose.NOISE, 8, 5).bits(0));
        assertNotEquals(base, new CounterRng(42, Purpose.NOISE, 7, 6).bits(0));
        // Swapping step and slot must not alias.
        assertNotEquals(new CounterRng(1, Purpose.TIME, 2, 3).bits(0), new CounterRng(1, Purpose.TIME, 3, 2).bits(0));
    }

    @Test
    void filledNormalsEqualElementwiseNormalsIncludingAnOddTail() {
        double[] d = new double[7];
        float[] f = new float[7];
        KEY.fillNormal(d);
        KEY.fillNormal(f);
        for (int i = 0; i < 7; i++) {
            assertEquals(KEY.normal(i), d[i], 0.0);
            assertEquals((float) KEY.normal(i), f[i], 0.0f);
        }
        INDArray a = KEY.normal(DataType.FLOAT, 7);
        for (int i = 0; i < 7; i++) {
            assertEquals(f[i], a.getFloat(i), 0.0f);
        }
    }

    /** With n = 2^18 draws the standard errors are 0.002 (mean), 0.0028 (variance), 0.019 (fourth moment); bounds are 5 of them. */
    @Test
    void normalsHaveStandardMomentsAndUniformsTheirs() {
        int n = 1 << 18;
        double[] z = new double[n];
        new CounterRng(1, Purpose.SAMPLE_NOISE, 0, 0).fillNormal(z);
        double sum = 0, sq = 0, fourth = 0;
        for (double v : z) {
            sum += v;
            sq += v * v;
            fourth += v * v * v * v;
        }
        assertEquals(0, sum / n, 0.01);
        assertEquals(1, sq / n, 0.014);
        assertEquals(3, fourth / n, 0.1);

        CounterRng u = new CounterRng(1, Purpose.TIME, 0, 0);
        double us = 0, uq = 0;
        for (int i = 0; i < n; i++) {
            double v = u.uniform(i);
            assertTrue(v >= 0 && v < 1, "uniform out of [0,1): " + v);
            us += v;
            uq += v * v;
        }
        assertEquals(0.5, us / n, 5 * Math.sqrt(1.0 / 12 / n));
        assertEquals(1.0 / 3, uq / n, 5 * Math.sqrt(4.0 / 45 / n));
    }

    @Test
    void drawsABatchOfNoiseQuickly() {
        float[] out = new float[64 * 1024];
        CounterRng key = new CounterRng(3, Purpose.NOISE, 0, 0);
        for (int i = 0; i < 5; i++) {
            key.fillNormal(out);
        }
        long start = System.nanoTime();
        for (int i = 0; i < 10; i++) {
            key.withSlot(i).fillNormal(out);
        }
        double ms = (System.nanoTime() - start) / 1e6 / 10;
        System.out.printf("CounterRng: 64x1024 normals in %.2f ms%n", ms);
        assertTrue(ms < 100, "64x1024 normals took " + ms + " ms");
    }
}
