package org.transcend.stages.teacher;

import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.coders.IterableCoder;
import org.apache.beam.sdk.coders.KvCoder;
import org.apache.beam.sdk.coders.VarLongCoder;
import org.apache.beam.sdk.extensions.avro.coders.AvroCoder;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.KV;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.TimeDistribution;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.train.LatentData;
import org.transcend.model.train.TrainingBatch;
import org.transcend.schemas.DType;
import org.transcend.schemas.TeacherTarget;
import org.transcend.stages.io.Tensors;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class CachedTargetsTest {

    static final int TOKENS = 4, DIM = 3;

    @TempDir
    Path dir;

    private final TrainingPlan plan = new TrainingPlan(7, 16, 4, new TimeDistribution.Uniform(), 0.1, 10);
    private final LatentData data = new LatentData(Nd4j.rand(DataType.FLOAT, 16, 4, 4, 4), Nd4j.rand(DataType.FLOAT, 16, 4, 4, 4),
            new int[16], 1.0, 0.0);

    /** One target per slot of steps 0 and 1, the feature of step s slot b filled with s·10 + b. */
    private List<TeacherTarget> targets() {
        List<TeacherTarget> out = new ArrayList<>();
        for (long step = 0; step < 2; step++) {
            for (TrainingPlan.Slot s : plan.batch(step)) {
                INDArray f = Nd4j.zeros(DataType.FLOAT, TOKENS, DIM).addi(step * 10 + s.slot());
                out.add(new TeacherTarget(step, s.slot(), s.exampleIndex(), s.t(), Tensors.encode(f, DType.FLOAT32)));
            }
        }
        return out;
    }

    /** Runs the shard writer on one shard in a Beam pipeline, once per attempt, the attempts side by side. */
    @SafeVarargs
    private void writeShard(long shard, List<TeacherTarget>... attempts) {
        Pipeline p = Pipeline.create();
        var coder = KvCoder.of(VarLongCoder.of(), IterableCoder.of(AvroCoder.of(TeacherTarget.class)));
        for (int i = 0; i < attempts.length; i++) {
            p.apply("Bundle " + i, Create.of(KV.of(shard, (Iterable<TeacherTarget>) attempts[i])).withCoder(coder))
                    .apply("Attempt " + i, ParDo.of(new CacheTeacherTargets.WriteShard(dir + "/")));
        }
        p.run().waitUntilFinish();
    }

    @Test
    void aRetriedShardWriteLeavesTheSameSingleFileWhateverOrderItsBundleSaw() throws Exception {
        List<TeacherTarget> targets = targets();
        writeShard(0, targets);
        byte[] first = Files.readAllBytes(Path.of(CacheTeacherTargets.shardFile(dir + "/", 0)));
        List<TeacherTarget> reversed = new ArrayList<>(targets);
        Collections.reverse(reversed);
        // The bundle retried twice more at once, one attempt seeing its grouped values in another order.
        writeShard(0, targets, reversed);
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("targets-000000.avro"), files.map(p -> p.getFileName().toString()).toList());
        }
        assertArrayEquals(first, Files.readAllBytes(Path.of(CacheTeacherTargets.shardFile(dir + "/", 0))),
                "a retried bundle must rewrite identical bytes, never add or reorder records");
    }

    @Test
    void cachedTargetsComeBackInPlanOrder() {
        writeShard(0, targets());
        CachedTargets cached = new CachedTargets(dir + "/", 10, TimeWindow.ALL, TOKENS, DIM);
        INDArray got = cached.targets(TrainingBatch.of(plan, data, 1));
        for (int b = 0; b < 4; b++) assertEquals(10 + b, got.getFloat(b, 0, 0), 0f);
    }

    @Test
    void aNonFiniteTargetIsRefusedWhereItEntersTheStudentNamingStepAndSlot() {
        List<TeacherTarget> targets = targets();
        TeacherTarget t = targets.get(6); // step 1, slot 2
        INDArray f = Nd4j.zeros(DataType.FLOAT, TOKENS, DIM);
        f.putScalar(1, 2, Float.NaN);
        targets.set(6, new TeacherTarget(t.getStep(), t.getSlot(), t.getExampleIndex(), t.getT(), Tensors.encode(f, DType.FLOAT32)));
        writeShard(0, targets);
        CachedTargets cached = new CachedTargets(dir + "/", 10, TimeWindow.ALL, TOKENS, DIM);
        cached.targets(TrainingBatch.of(plan, data, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cached.targets(TrainingBatch.of(plan, data, 1)));
        assertTrue(e.getMessage().contains("teacher target of step 1 slot 2 in " + dir + "/targets-000000.avro holds NaN at element 5"),
                e.getMessage());
    }
}
