package org.transcend.model.train;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.Losses;
import org.transcend.model.flow.Prediction;
import org.transcend.model.flow.TimeDistribution;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.sit.AlignHead;
import org.transcend.model.sit.ProjectorHead;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTConfig;
import org.transcend.model.sit.SiTOutputs;

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
        assertFallsOnAFixedBatch(trainer, d, SiTTrainer.LOSS, 250, 10);
    }

    /** The loss part {@code part} on the plan's first batch, fitted for {@code steps} more steps, falls below 1/factor of its first value. */
    private static void assertFallsOnAFixedBatch(SiTTrainer trainer, LatentData d, String part, int steps, double factor) {
        TrainingBatch fixed = TrainingBatch.of(plan(16, 16), d, 0);
        double first = trainer.step(fixed).losses().get(part);
        double last = first;
        for (int i = 0; i < steps; i++) last = trainer.step(fixed).losses().get(part);
        assertTrue(last < first / factor, part + " fell from " + first + " to " + last + ", less than " + factor + "x");
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

    @Test
    void aNonFiniteLossStopsTrainingNamingStepAndPartAndARerunResumesFromTheLastGoodCheckpoint() throws Exception {
        LatentData d = data(16, 5);
        TrainingPlan p = plan(16, 8);
        GuidedTeacher teacher = new GuidedTeacher(SiT.initialise(TINY, List.of(), Optional.empty(), DataType.FLOAT, 13), 2, 5.0);
        Objective guided = new Objective.GuidedFeatures(1, TimeWindow.ALL, 0.5, 8);
        TargetSource healthy = TargetSource.online(teacher);
        // A target source that goes bad at step 5 only, as a corrupted input or a teacher overflow would.
        TargetSource poisoned = b -> b.step() == 4 ? teacher.features(b).assign(Double.NaN) : teacher.features(b);

        List<Checkpoint> saved = new ArrayList<>();
        SiTTrainer failing = new SiTTrainer(student(), p, d, settings(8), guided, poisoned);
        NonFiniteLossException e = assertThrows(NonFiniteLossException.class, () -> failing.train(8, r -> {}, saved::add));
        assertTrue(e.getMessage().contains("step 5") && e.getMessage().contains("'" + SiTTrainer.LOSS_GUIDED + "'"), e.getMessage());
        assertEquals(List.of(2L, 4L), saved.stream().map(Checkpoint::step).toList(), "no checkpoint after the failure");

        Path last = dir.resolve("step-4.safetensors");
        saved.get(1).save(last);
        SiTTrainer rerun = new SiTTrainer(student(), p, d, settings(8), guided, healthy);
        rerun.restore(Checkpoint.load(last));
        rerun.train(8, r -> {}, c -> {});
        SiTTrainer straight = new SiTTrainer(student(), p, d, settings(8), guided, healthy);
        straight.train(8, r -> {}, c -> {});
        Map<String, INDArray> a = straight.model().stateDict(), b = rerun.model().stateDict();
        for (String k : a.keySet()) assertEquals(a.get(k), b.get(k), "weights of " + k);
    }

    /** A float64 network whose every tensor is random, so no gradient hides behind a zero-initialised layer. */
    private static SiT randomised(List<ProjectorHead> projectors, Optional<AlignHead> align, long seed) {
        SiT sit = SiT.initialise(TINY, projectors, align, DataType.DOUBLE, seed);
        Nd4j.getRandom().setSeed(seed);
        Map<String, INDArray> weights = sit.stateDict();
        for (String name : sit.trainableNames()) weights.get(name).assign(Nd4j.randn(DataType.DOUBLE, weights.get(name).shape()).muli(0.2));
        sit.loadStateDict(weights);
        return sit;
    }

    /** The placeholders of the reference loss graphs: x_t, t, v and the one-hot conditioning labels, in float64. */
    private static Map<String, INDArray> feed(SiT sit, TrainingBatch batch) {
        return Map.of("x_t", batch.xt().castTo(DataType.DOUBLE), "t", batch.t().castTo(DataType.DOUBLE), "v", batch.v().castTo(DataType.DOUBLE),
                "y", sit.oneHot(java.util.Arrays.stream(batch.conditioningLabels()).asLongStream().toArray()));
    }

    @Test
    void aStepsLossesAndGradientsEqualTheSameDiffLossGraphInFloat64() {
        LatentData d = data(16, 5);
        TrainingPlan p = plan(16, 8);
        TrainingBatch batch = TrainingBatch.of(p, d, 0);
        TimeWindow window = new TimeWindow(0.1, 0.5);
        int inside = batch.slotsInside(window).length;
        assertTrue(inside > 0 && inside < 8, "the batch must have samples on both sides of the window, has " + inside + " inside");
        INDArray fixedTarget = Nd4j.randn(DataType.DOUBLE, 8, TINY.tokens(), 24);

        for (Prediction prediction : Prediction.values()) {
            for (boolean align : new boolean[]{true, false}) {
                SiT sit = align ? randomised(List.of(), Optional.of(new AlignHead(2, 40)), 31)
                        : randomised(List.of(new ProjectorHead(1, 48, 24)), Optional.empty(), 32);
                Objective objective = align ? new Objective.VaeAlign(2, window, 0.5)
                        : new Objective.GuidedFeatures(1, window, 0.5, 10);
                TrainerSettings s = new TrainerSettings(new AdamW.Hyper(1e-3, 0.9, 0.999, 1e-8, 0.0), 1.0, 0.99, prediction, 5, 2);
                SiTTrainer.Pass pass = new SiTTrainer(sit, p, d, s, objective, b -> fixedTarget).pass(batch);

                // the loss graph the trainer used to build, on the same network
                SameDiff sd = SameDiff.create();
                long[] image = {-1, TINY.inChannels(), TINY.inputSize(), TINY.inputSize()};
                SDVariable xt = sd.placeHolder("x_t", DataType.DOUBLE, image), t = sd.placeHolder("t", DataType.DOUBLE, -1);
                SDVariable v = sd.placeHolder("v", DataType.DOUBLE, image);
                SiTOutputs o = sit.build(sd, xt, t, sd.placeHolder("y", DataType.DOUBLE, -1, TINY.labelRows()));
                SDVariable tImage = org.transcend.model.flow.Path.perSample(t, 4);
                SDVariable flow = Losses.meanSquare(prediction.velocity(o.out().orElseThrow(), xt, tImage), v);
                SDVariable aux = align ? Losses.maskedMeanSquare(o.align().orElseThrow(), v, tImage, window)
                        : Losses.maskedMeanSquare(o.projections().get(0), sd.constant(fixedTarget), org.transcend.model.flow.Path.perSample(t, 3), window);
                SDVariable total = flow.add(aux.mul(0.5));
                sd.setLossVariables(total);
                Map<String, INDArray> feed = feed(sit, batch);
                Map<String, INDArray> expected = sd.calculateGradients(feed, sit.trainableNames());
                double expectedTotal = sd.output(feed, total.name()).get(total.name()).getDouble(0);

                String what = prediction + (align ? " with VAE alignment" : " with guided features");
                assertEquals(expectedTotal, pass.losses().get(SiTTrainer.LOSS), 1e-12 * expectedTotal, what + ": total loss");
                for (String name : sit.trainableNames()) {
                    double err = pass.gradients().get(name).sub(expected.get(name)).norm2Number().doubleValue()
                            / expected.get(name).norm2Number().doubleValue();
                    assertTrue(err < 1e-9, what + ": gradient of " + name + " relative error " + err);
                }
            }
        }
    }

    @Test
    void aRepaStepsLossesAndGradientsEqualTheSameDiffLossGraphInFloat64() {
        LatentData d = data(16, 6);
        TrainingPlan p = plan(16, 8);
        TrainingBatch batch = TrainingBatch.of(p, d, 0);
        INDArray features = Nd4j.randn(DataType.DOUBLE, 16, TINY.tokens(), 24);
        SiT sit = randomised(List.of(new ProjectorHead(2, 48, 24)), Optional.empty(), 33);
        TrainerSettings s = new TrainerSettings(new AdamW.Hyper(1e-3, 0.9, 0.999, 1e-8, 0.0), 1.0, 0.99, Prediction.VELOCITY, 5, 2);
        SiTTrainer.Pass pass = new SiTTrainer(sit, p, d, s, new Objective.RepresentationAlignment(2, 0.5), TargetSource.perImage(features))
                .pass(batch);

        INDArray target = Nd4j.create(DataType.DOUBLE, 8, TINY.tokens(), 24);
        for (int i = 0; i < 8; i++) target.slice(i).assign(features.slice(batch.slots().get(i).exampleIndex()));
        SameDiff sd = SameDiff.create();
        long[] image = {-1, TINY.inChannels(), TINY.inputSize(), TINY.inputSize()};
        SDVariable xt = sd.placeHolder("x_t", DataType.DOUBLE, image);
        SiTOutputs o = sit.build(sd, xt, sd.placeHolder("t", DataType.DOUBLE, -1), sd.placeHolder("y", DataType.DOUBLE, -1, TINY.labelRows()));
        SDVariable total = Losses.meanSquare(o.out().orElseThrow(), sd.placeHolder("v", DataType.DOUBLE, image))
                .add(Losses.negativeCosine(o.projections().get(0), sd.constant(target), 2).mul(0.5));
        sd.setLossVariables(total);
        Map<String, INDArray> feed = feed(sit, batch);
        Map<String, INDArray> expected = sd.calculateGradients(feed, sit.trainableNames());
        double expectedTotal = sd.output(feed, total.name()).get(total.name()).getDouble(0);

        assertEquals(expectedTotal, pass.losses().get(SiTTrainer.LOSS), 1e-12 * Math.abs(expectedTotal), "total loss");
        assertTrue(pass.losses().get(SiTTrainer.LOSS_REPA) > -1 && pass.losses().get(SiTTrainer.LOSS_REPA) < 1);
        for (String name : sit.trainableNames()) {
            double err = pass.gradients().get(name).sub(expected.get(name)).norm2Number().doubleValue()
                    / expected.get(name).norm2Number().doubleValue();
            assertTrue(err < 1e-9, "gradient of " + name + " relative error " + err);
        }
    }

    /** SRA: the target is the EMA's block-3 features at t' (a constant to the loss), scored by negative cosine per token. */
    @Test
    void anSraStepsLossesAndGradientsEqualTheSameDiffLossGraphWithTheEmaTargetInFloat64() {
        LatentData d = data(16, 7);
        TrainingPlan p = plan(16, 8);
        TrainingBatch batch = TrainingBatch.of(p, d, 0);
        SiT sit = SiT.initialise(TINY, List.of(), Optional.empty(), Optional.of(new org.transcend.model.sit.SraHead(1, 64)), DataType.DOUBLE, 34);
        Map<String, INDArray> w = sit.stateDict();
        Nd4j.getRandom().setSeed(34);
        for (String name : sit.trainableNames()) w.get(name).assign(Nd4j.randn(DataType.DOUBLE, w.get(name).shape()).muli(0.2));
        sit.loadStateDict(w);
        TrainerSettings s = new TrainerSettings(new AdamW.Hyper(1e-3, 0.9, 0.999, 1e-8, 0.0), 1.0, 0.5, Prediction.VELOCITY, 5, 2);
        SiTTrainer trainer = new SiTTrainer(sit, p, d, s, new Objective.SelfRepresentation(1, 3, 0.5, 0.2), null);

        // before any step the EMA is the network itself: the target is its block 3 at t', on the same x0 and ε
        INDArray tPrime = p.teacherTimes(batch.slots(), 0.2).castTo(DataType.DOUBLE);
        INDArray xPrime = org.transcend.model.flow.Path.interpolate(batch.x0().castTo(DataType.DOUBLE), batch.eps().castTo(DataType.DOUBLE), tPrime);
        INDArray y = sit.oneHot(java.util.Arrays.stream(batch.conditioningLabels()).asLongStream().toArray());
        INDArray target = new org.transcend.model.sit.SiTEngine(sit.castTo(DataType.DOUBLE)).forward(xPrime, tPrime, y, 3, false, false).block(3).dup();
        SiTTrainer.Pass pass = trainer.pass(batch);

        SameDiff sd = SameDiff.create();
        long[] image = {-1, TINY.inChannels(), TINY.inputSize(), TINY.inputSize()};
        SiTOutputs o = sit.build(sd, sd.placeHolder("x_t", DataType.DOUBLE, image), sd.placeHolder("t", DataType.DOUBLE, -1),
                sd.placeHolder("y", DataType.DOUBLE, -1, TINY.labelRows()));
        SDVariable total = Losses.meanSquare(o.out().orElseThrow(), sd.placeHolder("v", DataType.DOUBLE, image))
                .add(Losses.negativeCosine(o.sra().orElseThrow(), sd.constant(target), 2).mul(0.5));
        sd.setLossVariables(total);
        Map<String, INDArray> feed = feed(sit, batch);
        Map<String, INDArray> expected = sd.calculateGradients(feed, sit.trainableNames());
        double expectedTotal = sd.output(feed, total.name()).get(total.name()).getDouble(0);
        assertEquals(expectedTotal, pass.losses().get(SiTTrainer.LOSS), 1e-12 * Math.abs(expectedTotal), "total loss");
        for (String name : sit.trainableNames()) {
            double scale = expected.get(name).norm2Number().doubleValue();
            double err = pass.gradients().get(name).sub(expected.get(name)).norm2Number().doubleValue() / scale;
            assertTrue(err < 1e-9, "gradient of " + name + " relative error " + err);
        }

        // the teacher follows the EMA: after a step (decay 0.5) the same batch has another target, hence another loss
        double before = pass.losses().get(SiTTrainer.LOSS_SRA);
        trainer.step(batch);
        Map<String, INDArray> ema = trainer.emaStateDict();
        assertNotEquals(before, trainer.pass(batch).losses().get(SiTTrainer.LOSS_SRA));
        assertNotEquals(w.get("blocks.0.attn.qkv.weight"), ema.get("blocks.0.attn.qkv.weight"));
    }

    @Test
    void resumingAnSraRunGivesBitIdenticalWeights() throws Exception {
        LatentData d = data(24, 8);
        TrainingPlan p = plan(24, 8);
        Objective sra = new Objective.SelfRepresentation(1, 3, 0.5, 0.2);
        assertResumingIsBitExact(() -> new SiTTrainer(SiT.initialise(TINY, List.of(), Optional.empty(),
                Optional.of(new org.transcend.model.sit.SraHead(1, 64)), DataType.FLOAT, 9), p, d, settings(6), sra, null));
    }

    /** Six steps straight, against three, a checkpoint, a fresh trainer restored from it and three more: the same weights. */
    private void assertResumingIsBitExact(java.util.function.Supplier<SiTTrainer> fresh) throws Exception {
        SiTTrainer straight = fresh.get();
        for (int i = 0; i < 6; i++) straight.step();
        SiTTrainer first = fresh.get();
        for (int i = 0; i < 3; i++) first.step();
        Path file = dir.resolve("resume.safetensors");
        first.checkpoint(Map.of()).save(file);
        SiTTrainer resumed = fresh.get();
        resumed.restore(Checkpoint.load(file));
        for (int i = 0; i < 3; i++) resumed.step();
        Map<String, INDArray> a = straight.model().stateDict(), b = resumed.model().stateDict();
        for (String k : a.keySet()) assertEquals(a.get(k), b.get(k), "weights of " + k);
    }

    static final SiTConfig TINY_REG = new SiTConfig(8, 2, 4, 32, 4, 2, 4.0, 10, false, 0.1, 0, 12);

    /** A REG network with every tensor random (linear_cls included, which starts at zero), in float64. */
    private static SiT randomisedReg(long seed) {
        SiT sit = SiT.initialise(TINY_REG, List.of(), Optional.empty(), DataType.DOUBLE, seed);
        Nd4j.getRandom().setSeed(seed);
        Map<String, INDArray> weights = sit.stateDict();
        for (String name : sit.trainableNames()) weights.get(name).assign(Nd4j.randn(DataType.DOUBLE, weights.get(name).shape()).muli(0.2));
        sit.loadStateDict(weights);
        return sit;
    }

    /** REG: g_t = (1 − t)·g + t·ε_g from the plan's GLOBAL_NOISE, v̂_g scored against ε_g − g with weight β. */
    @Test
    void aRegStepsLossesAndGradientsEqualTheSameDiffLossGraphInFloat64() {
        LatentData d = data(16, 9);
        TrainingPlan p = plan(16, 8);
        TrainingBatch batch = TrainingBatch.of(p, d, 0);
        Nd4j.getRandom().setSeed(35);
        INDArray features = Nd4j.randn(DataType.DOUBLE, 16, 1, 12);
        SiT sit = randomisedReg(35);
        TrainerSettings s = new TrainerSettings(new AdamW.Hyper(1e-3, 0.9, 0.999, 1e-8, 0.0), 1.0, 0.99, Prediction.VELOCITY, 5, 2);
        SiTTrainer.Pass pass = new SiTTrainer(sit, p, d, s, new Objective.RepresentationEntanglement(0.03), TargetSource.perImage(features))
                .pass(batch);

        INDArray g = Nd4j.create(DataType.DOUBLE, 8, 12);
        for (int i = 0; i < 8; i++) g.getRow(i).assign(features.slice(batch.slots().get(i).exampleIndex()).reshape(12));
        INDArray epsG = p.globalNoise(batch.slots(), 12).castTo(DataType.DOUBLE);
        INDArray tCol = batch.t().castTo(DataType.DOUBLE).reshape(8, 1);
        INDArray gt = g.mulColumnVector(tCol.rsub(1.0)).addi(epsG.mulColumnVector(tCol));
        SameDiff sd = SameDiff.create();
        long[] image = {-1, TINY_REG.inChannels(), TINY_REG.inputSize(), TINY_REG.inputSize()};
        SiTOutputs o = sit.build(sd, sd.placeHolder("x_t", DataType.DOUBLE, image), sd.constant(gt), sd.placeHolder("t", DataType.DOUBLE, -1),
                sd.placeHolder("y", DataType.DOUBLE, -1, TINY_REG.labelRows()), SiT.Wiring.full(TINY_REG.depth()));
        SDVariable reg = Losses.meanSquare(o.global().orElseThrow(), sd.constant(epsG.sub(g)));
        SDVariable total = Losses.meanSquare(o.out().orElseThrow(), sd.placeHolder("v", DataType.DOUBLE, image)).add(reg.mul(0.03));
        sd.setLossVariables(total);
        Map<String, INDArray> feed = feed(sit, batch);
        Map<String, INDArray> expected = sd.calculateGradients(feed, sit.trainableNames());
        Map<String, INDArray> values = sd.output(feed, total.name(), reg.name());

        assertEquals(values.get(total.name()).getDouble(0), pass.losses().get(SiTTrainer.LOSS), 1e-12 * pass.losses().get(SiTTrainer.LOSS), "total loss");
        assertEquals(values.get(reg.name()).getDouble(0), pass.losses().get(SiTTrainer.LOSS_REG), 1e-12 * pass.losses().get(SiTTrainer.LOSS_REG), "loss_reg");
        for (String name : sit.trainableNames()) {
            double err = pass.gradients().get(name).sub(expected.get(name)).norm2Number().doubleValue()
                    / expected.get(name).norm2Number().doubleValue();
            assertTrue(err < 1e-9, "gradient of " + name + " relative error " + err);
        }
    }

    @Test
    void theRegTermFallsOnAFixedBatch() {
        LatentData d = data(16, 10);
        Nd4j.getRandom().setSeed(36);
        INDArray features = Nd4j.randn(DataType.FLOAT, 16, 1, 12);
        SiTTrainer trainer = new SiTTrainer(SiT.initialise(TINY_REG, List.of(), Optional.empty(), DataType.FLOAT, 36), plan(16, 16), d,
                settings(200), new Objective.RepresentationEntanglement(0.03), TargetSource.perImage(features));
        assertFallsOnAFixedBatch(trainer, d, SiTTrainer.LOSS_REG, 150, 3);
    }

    @Test
    void resumingARegRunGivesBitIdenticalWeights() throws Exception {
        LatentData d = data(24, 11);
        TrainingPlan p = plan(24, 8);
        Nd4j.getRandom().setSeed(37);
        TargetSource g = TargetSource.perImage(Nd4j.randn(DataType.FLOAT, 24, 1, 12));
        Objective reg = new Objective.RepresentationEntanglement(0.03);
        SiT model = SiT.initialise(TINY_REG, List.of(), Optional.empty(), DataType.FLOAT, 10);
        assertTrue(model.trainableNames().containsAll(List.of("cls_projectors2.weight", "linear_cls.weight")), "the token's tensors are trained");
        assertResumingIsBitExact(() -> new SiTTrainer(SiT.initialise(TINY_REG, List.of(), Optional.empty(), DataType.FLOAT, 10),
                p, d, settings(6), reg, g));
    }

    /** TINY with RAE's DH head after it: D_h = 48, 2 blocks, 2 heads. */
    static final SiTConfig TINY_DH = new SiTConfig(8, 2, 4, 32, 4, 2, 4.0, 10, false, 0.1, 0, 0, 48, 2, 2);

    @Test
    void aModelWithTheDhHeadFitsOneFixedBatch() {
        LatentData d = data(16, 12);
        SiTTrainer trainer = new SiTTrainer(SiT.initialise(TINY_DH, List.of(), Optional.empty(), DataType.FLOAT, 38), plan(16, 16), d,
                settings(200), new Objective.Vanilla(), null);
        assertFallsOnAFixedBatch(trainer, d, SiTTrainer.LOSS, 150, 5);
    }

    @Test
    void resumingADhRunGivesBitIdenticalWeights() throws Exception {
        LatentData d = data(24, 13);
        TrainingPlan p = plan(24, 8);
        assertResumingIsBitExact(() -> new SiTTrainer(SiT.initialise(TINY_DH, List.of(), Optional.empty(), DataType.FLOAT, 39),
                p, d, settings(6), new Objective.Vanilla(), null));
    }

    @Test
    void theRegObjectiveNeedsTheGlobalTokenAndItsFeatures() {
        LatentData d = data(8, 12);
        IllegalArgumentException noToken = assertThrows(IllegalArgumentException.class, () -> new SiTTrainer(
                SiT.initialise(TINY, List.of(), Optional.empty(), DataType.FLOAT, 1), plan(8, 4), d, settings(1),
                new Objective.RepresentationEntanglement(0.03), b -> Nd4j.zeros(4, 1, 12)));
        assertTrue(noToken.getMessage().contains("global token"), noToken.getMessage());
        SiTTrainer wrongWidth = new SiTTrainer(SiT.initialise(TINY_REG, List.of(), Optional.empty(), DataType.FLOAT, 1), plan(8, 4), d,
                settings(1), new Objective.RepresentationEntanglement(0.03), b -> Nd4j.zeros(4, 1, 10));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, wrongWidth::step);
        assertTrue(e.getMessage().contains("takes 12 values per image"), e.getMessage());
    }
}
