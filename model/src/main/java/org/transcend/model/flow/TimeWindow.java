package org.transcend.model.flow;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** A closed interval of times {@code [low, high]}: where an alignment loss is active, or where CFG is applied. */
public record TimeWindow(double low, double high) {

    /** The window of the VAE-alignment and guided-feature losses in METHOD.md. */
    public static final TimeWindow ALIGNMENT = new TimeWindow(0.4, 0.7);

    /** Every time in [0, 1]. */
    public static final TimeWindow ALL = new TimeWindow(0, 1);

    public TimeWindow {
        if (!(low <= high)) {
            throw new IllegalArgumentException("time window [" + low + ", " + high + "] is empty; low <= high is accepted");
        }
    }

    public boolean contains(double t) {
        return t >= low && t <= high;
    }

    /**
     * {@code 1[t ∈ [low, high]]} as FLOAT for times {@code t [N]}, compared in float32 as the graph's indicator
     * compares them, so a sample counts in both or in neither.
     */
    public INDArray indicator(INDArray t) {
        INDArray t32 = t.castTo(DataType.FLOAT);
        return t32.gte((float) low).castTo(DataType.FLOAT).muli(t32.lte((float) high).castTo(DataType.FLOAT));
    }

    /** {@code 1[t ∈ [low, high]]} as FLOAT in a graph, elementwise over {@code t}. */
    public SDVariable indicator(SDVariable t) {
        return t.gte(low).castTo(DataType.FLOAT).mul(t.lte(high).castTo(DataType.FLOAT));
    }
}
