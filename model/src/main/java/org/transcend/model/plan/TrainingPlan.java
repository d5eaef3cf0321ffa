package org.transcend.model.plan;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.TimeDistribution;
import org.transcend.model.rng.CounterRng;
import org.transcend.model.rng.Purpose;

import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A training run's randomness as a pure function of (seed, step, slot): which example each batch slot
 * sees, its time t, whether its label is dropped, and the keys of its noise and posterior sample. The
 * trainer and the teacher-feature extraction evaluate the same plan, so cached targets match online ones.
 */
public record TrainingPlan(long seed, long datasetSize, int batchSize, TimeDistribution timeDistribution,
                           double labelDropProbability, int numClasses) {

    /** The label-drop probability of METHOD.md. */
    public static final double LABEL_DROP = 0.1;

    /** Bumped whenever the plan's numbers change for the same settings, so cache keys change with them. */
    public static final String VERSION = "1";

    private static final int FEISTEL_ROUNDS = 6;

    public TrainingPlan {
        if (datasetSize < 1) {
            throw new IllegalArgumentException("datasetSize must be at least 1, got " + datasetSize);
        }
        if (datasetSize > 1L << 62) {
            throw new IllegalArgumentException("datasetSize " + datasetSize + " exceeds 2^62");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
        }
        if (timeDistribution == null) {
            throw new IllegalArgumentException("a time distribution is required (uniform or logit-normal)");
        }
        if (!(labelDropProbability >= 0 && labelDropProbability < 1)) {
            throw new IllegalArgumentException("labelDropProbability must lie in [0, 1), got " + labelDropProbability);
        }
        if (numClasses < 1) {
            throw new IllegalArgumentException("numClasses must be at least 1, got " + numClasses);
        }
    }

    /**
     * One batch slot of one step.
     *
     * @param noise     the key of ε (normals 0, 1, ... in C order of the sample's shape)
     * @param posterior the key of the standard normal that turns the stored posterior (mean, std) into a sample
     */
    public record Slot(long step, int slot, long epoch, long exampleIndex, double t, boolean labelDropped,
                       CounterRng noise, CounterRng posterior) {}

    /** The slot {@code slot} of training step {@code step}. */
    public Slot slot(long step, int slot) {
        if (step < 0 || slot < 0 || slot >= batchSize) {
            throw new IllegalArgumentException("slot (step " + step + ", slot " + slot + ") is outside the plan; steps >= 0 and slots in [0, "
                    + batchSize + ") are accepted");
        }
        long position = Math.addExact(Math.multiplyExact(step, (long) batchSize), slot);
        long epoch = position / datasetSize;
        double t = timeDistribution.time(new CounterRng(seed, Purpose.TIME, step, slot));
        boolean dropped = new CounterRng(seed, Purpose.LABEL_DROP, step, slot).uniform(0) < labelDropProbability;
        return new Slot(step, slot, epoch, exampleIndex(epoch, position % datasetSize), t, dropped,
                new CounterRng(seed, Purpose.NOISE, step, slot), new CounterRng(seed, Purpose.POSTERIOR, step, slot));
    }

    /** Every slot of step {@code step}, in slot order. */
    public List<Slot> batch(long step) {
        List<Slot> slots = new ArrayList<>(batchSize);
        for (int b = 0; b < batchSize; b++) {
            slots.add(slot(step, b));
        }
        return slots;
    }

    /** The label the network is conditioned on: the null class {@code numClasses} when the slot drops it. */
    public int conditioningLabel(Slot slot, int label) {
        if (label < 0 || label >= numClasses) {
            throw new IllegalArgumentException("label " + label + " is outside [0, " + numClasses + ")");
        }
        return slot.labelDropped() ? numClasses : label;
    }

    /**
     * The example at {@code position} of epoch {@code epoch}: a keyed bijection of [0, datasetSize), a
     * balanced Feistel network over [0, 2^k) (k even, 2^k ≥ datasetSize) with cycle-walking back into range.
     */
    public long exampleIndex(long epoch, long position) {
        if (position < 0 || position >= datasetSize) {
            throw new IllegalArgumentException("position " + position + " is outside [0, " + datasetSize + ")");
        }
        int halfBits = Math.max(1, (64 - Long.numberOfLeadingZeros(datasetSize - 1) + 1) / 2);
        long[] roundKeys = new long[FEISTEL_ROUNDS];
        for (int r = 0; r < FEISTEL_ROUNDS; r++) {
            roundKeys[r] = new CounterRng(seed, Purpose.EXAMPLE_ORDER, epoch, r).bits(0);
        }
        long x = position;
        do {
            x = feistel(x, halfBits, roundKeys);
        } while (x >= datasetSize);
        return x;
    }

    private static long feistel(long x, int halfBits, long[] roundKeys) {
        long mask = (1L << halfBits) - 1;
        long left = x >>> halfBits;
        long right = x & mask;
        for (long key : roundKeys) {
            long next = left ^ (CounterRng.mix(key ^ right) & mask);
            left = right;
            right = next;
        }
        return (left << halfBits) | right;
    }

    /**
     * SRA's teacher times for {@code slots}, FLOAT {@code [n]}: {@code t' = max(0, t − maxGap·U)}, U ~ U[0, 1) keyed by
     * (seed, TEACHER_TIME_GAP, step, slot), so the teacher of a resumed run or of another worker sees the same t'.
     */
    public INDArray teacherTimes(List<Slot> slots, double maxGap) {
        if (!(maxGap >= 0 && maxGap <= 1)) {
            throw new IllegalArgumentException("the teacher's time gap is " + maxGap + "; accepted: 0 to 1");
        }
        float[] t = new float[slots.size()];
        for (int i = 0; i < t.length; i++) {
            Slot s = slots.get(i);
            double gap = maxGap * new CounterRng(seed, Purpose.TEACHER_TIME_GAP, s.step(), s.slot()).uniform(0);
            t[i] = (float) Math.max(0, (float) s.t() - gap);
        }
        return Nd4j.create(t, new long[]{t.length}, DataType.FLOAT);
    }

    /**
     * REG's noise ε_g of the global feature for {@code slots}, FLOAT {@code [n, dim]}, keyed by (seed, GLOBAL_NOISE, step,
     * slot): its own stream, so the image's ε is what it is without REG, and a resumed run or another worker draws the same.
     */
    public INDArray globalNoise(List<Slot> slots, int dim) {
        List<CounterRng> keys = slots.stream().map(s -> new CounterRng(seed, Purpose.GLOBAL_NOISE, s.step(), s.slot())).toList();
        return CounterRng.normalRows(keys, DataType.FLOAT, dim);
    }

    /** The times of {@code slots} as FLOAT {@code [n]}. */
    public static INDArray times(List<Slot> slots) {
        float[] t = new float[slots.size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = (float) slots.get(i).t();
        }
        return Nd4j.create(t, new long[]{t.length}, DataType.FLOAT);
    }

    /** ε for {@code slots} as FLOAT {@code [n, sampleShape...]}; row i depends on slot i alone. */
    public static INDArray noise(List<Slot> slots, long... sampleShape) {
        return draw(slots, false, sampleShape);
    }

    /** The standard normals of the posterior samples for {@code slots}, as FLOAT {@code [n, sampleShape...]}. */
    public static INDArray posteriorNoise(List<Slot> slots, long... sampleShape) {
        return draw(slots, true, sampleShape);
    }

    private static INDArray draw(List<Slot> slots, boolean posterior, long[] sampleShape) {
        List<CounterRng> keys = slots.stream().map(s -> posterior ? s.posterior() : s.noise()).toList();
        return CounterRng.normalRows(keys, DataType.FLOAT, sampleShape);
    }

    /** Everything that determines the plan's numbers, in canonical order, for cache keys. */
    public SortedMap<String, String> specification() {
        SortedMap<String, String> spec = new TreeMap<>();
        spec.put("plan.version", VERSION);
        spec.put("rng", "splitmix64-counter-v1");
        spec.put("seed", Long.toString(seed));
        spec.put("datasetSize", Long.toString(datasetSize));
        spec.put("batchSize", Integer.toString(batchSize));
        spec.put("timeDistribution", timeDistribution.specification());
        spec.put("labelDropProbability", Double.toString(labelDropProbability));
        spec.put("numClasses", Integer.toString(numClasses));
        return spec;
    }
}
