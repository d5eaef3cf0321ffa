package org.transcend.stages.teacher;

import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificDatumReader;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.train.TargetSource;
import org.transcend.model.train.TrainingBatch;
import org.transcend.schemas.TeacherTarget;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Tensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Guided-feature targets read back from a teacher-target cache, one shard at a time in plan order. Every target
 * is checked against the plan (example and t), so a cache built for another plan is refused, not silently used,
 * and must be finite: a NaN or an infinity is refused here, naming its step and slot, not turned into a NaN loss.
 */
public final class CachedTargets implements TargetSource {

    private final String dir;
    private final long stepsPerShard;
    private final TimeWindow window;
    private final int tokens;
    private final int dim;
    private long loadedShard = -1;
    private Map<StepSlot, TeacherTarget> byStepSlot = new HashMap<>();

    private record StepSlot(long step, int slot) {}

    public CachedTargets(String dir, long stepsPerShard, TimeWindow window, int tokens, int dim) {
        this.dir = dir;
        this.stepsPerShard = stepsPerShard;
        this.window = window;
        this.tokens = tokens;
        this.dim = dim;
    }

    @Override
    public INDArray targets(TrainingBatch batch) {
        long shard = batch.step() / stepsPerShard;
        if (shard != loadedShard) load(shard);
        INDArray out = Nd4j.zeros(DataType.FLOAT, batch.slots().size(), tokens, dim);
        for (int row : batch.slotsInside(window)) {
            TrainingPlan.Slot slot = batch.slots().get(row);
            TeacherTarget t = byStepSlot.get(new StepSlot(slot.step(), slot.slot()));
            if (t == null || t.getExampleIndex() != slot.exampleIndex() || t.getT() != slot.t()) {
                throw new IllegalStateException("the teacher-target cache " + dir + " has no target for step " + slot.step()
                        + " slot " + slot.slot() + " (example " + slot.exampleIndex() + ", t " + slot.t()
                        + "): it was built for another training plan");
            }
            INDArray feature = Tensors.decodeFinite(t.getFeature(), () -> "the teacher target of step " + slot.step() + " slot "
                    + slot.slot() + " in " + CacheTeacherTargets.shardFile(dir, loadedShard));
            out.slice(row).assign(feature.reshape(tokens, dim));
        }
        return out;
    }

    private void load(long shard) {
        byStepSlot = new HashMap<>();
        String file = CacheTeacherTargets.shardFile(dir, shard);
        try {
            if (LocalCopies.list(file).isEmpty()) {
                loadedShard = shard; // a shard whose steps have no slot inside the mask is never written
                return;
            }
            Path local = LocalCopies.fetch(file);
            try (DataFileReader<TeacherTarget> r = new DataFileReader<>(local.toFile(), new SpecificDatumReader<>(TeacherTarget.class))) {
                for (TeacherTarget t : r) byStepSlot.put(new StepSlot(t.getStep(), t.getSlot()), t);
            }
            if (!LocalCopies.isLocal(file)) Files.deleteIfExists(local);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read teacher targets " + file, e);
        }
        loadedShard = shard;
    }
}
