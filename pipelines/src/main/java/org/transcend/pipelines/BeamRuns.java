package org.transcend.pipelines;

import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.metrics.MetricNameFilter;
import org.apache.beam.sdk.metrics.MetricQueryResults;
import org.apache.beam.sdk.metrics.MetricResult;
import org.apache.beam.sdk.metrics.MetricsFilter;

import java.util.Map;
import java.util.TreeMap;

/** Runs a stage's Beam pipeline to completion and reads back the counters it kept. */
public final class BeamRuns {
    private BeamRuns() {}

    /**
     * Runs and waits; returns the counters of the given namespace (committed where the runner has them). A stage's own
     * refusal of its input (an IllegalArgumentException inside a transform) comes out as itself, not wrapped by the
     * runner, so the user reads the stage's message.
     */
    public static Map<String, Long> runAndCount(Pipeline p, String namespace) {
        PipelineResult result;
        try {
            result = p.run();
        } catch (Pipeline.PipelineExecutionException e) {
            if (e.getCause() instanceof IllegalArgumentException refusal) throw refusal;
            throw e;
        }
        PipelineResult.State state = result.waitUntilFinish();
        if (state != PipelineResult.State.DONE) {
            throw new IllegalStateException("Beam pipeline of stage " + namespace + " ended in state " + state);
        }
        MetricQueryResults metrics = result.metrics().queryMetrics(
                MetricsFilter.builder().addNameFilter(MetricNameFilter.inNamespace(namespace)).build());
        Map<String, Long> counts = new TreeMap<>();
        for (MetricResult<Long> c : metrics.getCounters()) {
            Long v;
            try {
                v = c.getCommitted();
            } catch (UnsupportedOperationException e) {
                v = c.getAttempted();
            }
            counts.merge(c.getName().getName(), v == null ? 0L : v, Long::sum);
        }
        return counts;
    }
}
