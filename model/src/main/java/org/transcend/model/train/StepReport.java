package org.transcend.model.train;

import java.util.Map;

/** What one training step reports: its index (counting from 1), each loss part, the gradient norm and its time. */
public record StepReport(long step, Map<String, Double> losses, double gradientNorm, long nanos, int batchSize) {

    public double imagesPerSecond() {
        return batchSize * 1e9 / Math.max(1, nanos);
    }
}
