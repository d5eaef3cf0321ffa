package org.transcend.model.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LearningRateScheduleTest {

    @Test
    void cosineFallsFromTheBaseRateToZeroAndConstantStays() {
        assertEquals(1.0, LearningRateSchedule.COSINE.factor(0, 100), 1e-12);
        assertEquals(0.5, LearningRateSchedule.COSINE.factor(50, 100), 1e-12);
        assertEquals((1 + Math.cos(Math.PI * 0.99)) / 2, LearningRateSchedule.COSINE.factor(99, 100), 1e-12);
        assertEquals(0.0, LearningRateSchedule.COSINE.factor(100, 100), 1e-12);
        assertTrue(LearningRateSchedule.COSINE.factor(30, 100) > LearningRateSchedule.COSINE.factor(31, 100));
        assertEquals(1.0, LearningRateSchedule.CONSTANT.factor(99, 100), 0);
    }

    @Test
    void anUnknownNameIsRefusedWithTheAcceptedOnes() {
        assertEquals(LearningRateSchedule.COSINE, LearningRateSchedule.parse("cosine"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LearningRateSchedule.parse("linear"));
        assertTrue(e.getMessage().contains("'linear'") && e.getMessage().contains("constant, cosine"), e.getMessage());
    }
}
