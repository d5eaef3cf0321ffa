package org.transcend.model.train;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.Prediction;
import org.transcend.model.flow.TimeDistribution;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.sit.AlignHead;
import org.transcend.model.sit.ProjectorHead;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

class SiTTrainerTest {

    @TempDir
    Path dir;

    static final SiTConfig TINY = new SiTConfig(8, 2, 4, 32, 4, 2, 4.0, 10, false, 0.1);

    static LatentData data(int n, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray mean = Nd4j.randn(DataType.FLOAT, n, 4, 8, 8);
        INDArray std = Nd4j.rand(DataType.FLOAT, n, 4, 8, 8).muli(0.1);
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % 10;
        return new LatentData(mean, std, labels, 0.5, 0.0);
    }

    static TrainingPlan plan(long n, int batch) {
        return new TrainingPlan(7, n, batch, new TimeDistribution.Uniform(), TrainingPlan.LABEL_DROP, 10);
    }

    static TrainerSettings settings(long steps) {
        return new TrainerSettings(new AdamW.Hyper(1e-3, 0.9, 0.999, 1e-8, 0.0), 1.0, 0.99, Prediction.VELOCITY, steps, 2);
    }

    @Test
    void aTinyModelOverfitsOneFixedBatch() {
        LatentData d = data(16, 1);
        SiT sit = SiT.initialise(TINY, List.of(), Optional.empty(), DataType.FLOAT, 3);
        SiTTrainer trainer = new SiTTrainer(sit, plan(16, 16), d, settings(300), new Objective.Vanilla(), null);
        TrainingBatch fixed = TrainingBatch.of(plan(16, 16), d, 0);
        double first = trainer.step(fixed).losses().get(SiTTrainer.LOSS);
        double last = first;
        for (int i = 0; i < 250; i++) last = trainer.step(fixed).losses().get(SiTTrainer.LOSS);
        assertTrue(last < first / 10, "loss fell from " + first + " to " + last + ", less than 10x");
    }

    @Test
    void resumingFromACheckpointGivesBitIdenticalWeights() throws Exception {
        LatentData d = data(24, 2);
        TrainingPlan p = plan(24, 8);
        Objective align = new Objective.VaeAlign(2, TimeWindow.ALIGNMENT, 0.5);

        SiTTrainer straight = new SiTTrainer(SiT.initialise(TINY, List.of(), Optional.of(new AlignHead(2, 32)), DataType.FLOAT, 5),
                p, d, settings(6), align, null);
        for (int i = 0; i < 6; i++) straight.step();

        SiTTrainer first = new SiTTrainer(SiT.initialise(TINY, List.of(), Optional.of(new AlignHead(2, 32)), DataType.FLOAT, 5),
                p, d, settings(6), align, null);
        for (int i = 0; i < 3; i++) first.step();
        Path file = dir.resolve("ckpt.safetensors");
        first.checkpoint(Map.of()).save(file);

        SiTTrainer resumed = new SiTTrainer(SiT.initialise(TINY, List.of(), Optional.of(new AlignHead(2, 32)), DataType.FLOAT, 99),
                p, d, settings(6), align, null);
        resumed.restore(Checkpoint.load(file));
        assertEquals(3, resumed.completedSteps());
        for (int i = 0; i < 3; i++) resumed.step();

        Map<String, INDArray> a = straight.model().stateDict(), b = resumed.model().stateDict();
        for (String k : a.keySet()) assertEquals(a.get(k), b.get(k), "weights of " + k);
        Map<String, INDArray> ea = straight.emaStateDict(), eb = resumed.emaStateDict();
        for (String k : ea.keySet()) assertEquals(ea.get(k), eb.get(k), "EMA of " + k);
    }

    @Test
    void cachedTargetsAndTheOnlineTeacherTrainTheStudentIdentically() {
        LatentData d = data(24, 3);
        TrainingPlan p = plan(24, 8);
        SiT teacherNet = SiT.initialise(TINY, List.of(), Optional.of(new AlignHead(2, 32)), DataType.FLOAT, 11);
        GuidedTeacher teacher = new GuidedTeacher(teacherNet, 3, 5.0);
        Objective guided = new Objective.GuidedFeatures(1, TimeWindow.ALIGNMENT, 0.5, 3);

        // "Cached": targets extracted ahead, kept only for the slots inside the mask, zero elsewhere.
        List<INDArray> cache = new ArrayList<>();
        for (long s = 0; s < 3; s++) {
            TrainingBatch b = TrainingBatch.of(p, d, s);
            INDArray all = teacher.features(b);
            INDArray kept = Nd4j.zeros(all.dataType(), all.shape());
            for (int row : b.slotsInside(TimeWindow.ALIGNMENT)) kept.slice(row).assign(all.slice(row));
            cache.add(kept);
        }
        TargetSource cached = b -> cache.get((int) b.step());

        SiTTrainer online = new SiTTrainer(student(), p, d, settings(5), guided, TargetSource.online(teacher));
        SiTTrainer offline = new SiTTrainer(student(), p, d, settings(5), guided, cached);
        for (int i = 0; i < 5; i++) {
            Map<String, Double> lo = online.step().losses(), lc = offline.step().losses();
            assertEquals(lo, lc, "losses of step " + (i + 1));
        }
        Map<String, INDArray> a = online.model().stateDict(), b = offline.model().stateDict();
        for (String k : a.keySet()) assertEquals(a.get(k), b.get(k), "weights of " + k);
    }

    private static SiT student() {
        return SiT.initialise(TINY, List.of(new ProjectorHead(1, 64, 32)), Optional.empty(), DataType.FLOAT, 21);
    }

    @Test
    void theGuidedTermStopsAtTheStopStep() {
        LatentData d = data(16, 4);
        SiT teacherNet = SiT.initialise(TINY, List.of(), Optional.empty(), DataType.FLOAT, 12);
        SiTTrainer t = new SiTTrainer(student(), plan(16, 8), d, settings(4), new Objective.GuidedFeatures(1, TimeWindow.ALL, 0.5, 2),
                TargetSource.online(new GuidedTeacher(teacherNet, 2, 5.0)));
        StepReport s1 = t.step(), s2 = t.step(), s3 = t.step();
        double flow1 = s1.losses().get(SiTTrainer.LOSS_FLOW), guided1 = s1.losses().get(SiTTrainer.LOSS_GUIDED);
        assertEquals(flow1 + 0.5 * guided1, s1.losses().get(SiTTrainer.LOSS), 1e-5 * Math.abs(flow1 + guided1));
        assertTrue(s2.losses().get(SiTTrainer.LOSS_GUIDED) > 0);
        assertEquals(s3.losses().get(SiTTrainer.LOSS_FLOW), s3.losses().get(SiTTrainer.LOSS), 0.0);
    }
}
