package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.Path;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.plan.TrainingPlan;

import java.util.List;

/**
 * One step's batch, built from the training plan alone: the clean latent x0 (a fresh posterior sample), the
 * noise ε, the time t, the noised x_t, the velocity target v, and the labels before and after label drop.
 * The trainer and the teacher-target extraction both build it here, so they see bit-identical inputs.
 */
public record TrainingBatch(long step, List<TrainingPlan.Slot> slots, INDArray x0, INDArray eps, INDArray t,
                            INDArray xt, INDArray v, int[] labels, int[] conditioningLabels) {

    public static TrainingBatch of(TrainingPlan plan, LatentData data, long step) {
        List<TrainingPlan.Slot> slots = plan.batch(step);
        long[] shape = data.sampleShape();
        int n = slots.size();
        int[] index = new int[n];
        int[] labels = new int[n];
        int[] conditioning = new int[n];
        for (int i = 0; i < n; i++) {
            TrainingPlan.Slot s = slots.get(i);
            index[i] = Math.toIntExact(s.exampleIndex());
            labels[i] = data.labels()[index[i]];
            conditioning[i] = plan.conditioningLabel(s, labels[i]);
        }
        INDArray mean = Nd4j.pullRows(data.mean().reshape(data.size(), -1), 1, index).reshape(batchShape(n, shape));
        INDArray std = Nd4j.pullRows(data.std().reshape(data.size(), -1), 1, index).reshape(batchShape(n, shape));
        INDArray x0 = TrainingPlan.posteriorNoise(slots, shape).muli(std).addi(mean).subi(data.shift()).muli(data.scale());
        INDArray eps = TrainingPlan.noise(slots, shape);
        INDArray t = TrainingPlan.times(slots);
        INDArray xt = Path.interpolate(x0, eps, t);
        return new TrainingBatch(step, slots, x0, eps, t, xt, Path.velocity(x0, eps), labels, conditioning);
    }

    private static long[] batchShape(int n, long[] sample) {
        long[] s = new long[sample.length + 1];
        s[0] = n;
        System.arraycopy(sample, 0, s, 1, sample.length);
        return s;
    }

    /**
     * The slots whose t lies in [low, high], compared in float32 as the training graph's mask compares them,
     * so the slots given a cached target are exactly the slots the loss counts.
     */
    public int[] slotsInside(TimeWindow window) {
        INDArray inside = window.indicator(t);
        return java.util.stream.IntStream.range(0, slots.size()).filter(i -> inside.getFloat(i) == 1f).toArray();
    }
}
