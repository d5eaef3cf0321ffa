package org.transcend.pipelines;

import java.util.Map;

/** What a stage reports when it has written its artifact: record and dead-letter counts, and metrics. */
public record StageOutcome(Map<String, Long> counts, Map<String, Double> metrics) {

    public long deadLetters() {
        return counts.getOrDefault("dead_letters", 0L);
    }
}
