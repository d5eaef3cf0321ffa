package org.transcend.model.train;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.Losses;
import org.transcend.model.flow.Path;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTOutputs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Trains a SiT by flow matching on latents, following the training plan: each step builds its batch from the
 * plan, adds the objective's auxiliary term (VAE alignment, guided teacher features, or none), clips the
 * gradient norm, applies AdamW and updates the EMA. A checkpoint holds everything needed to continue
 * bit-identically.
 */
public final class SiTTrainer {

    public static final String LOSS = "loss";
    public static final String LOSS_FLOW = "loss_flow";
    public static final String LOSS_ALIGN = "loss_align";
    public static final String LOSS_GUIDED = "loss_guided";

    private final SiT model;
    private final TrainingPlan plan;
    private final LatentData data;
    private final TrainerSettings settings;
    private final Objective objective;
    private final TargetSource targets;
    private final SameDiff sd;
    private final List<String> trainable;
    private final Map<String, INDArray> params = new LinkedHashMap<>();
    private final List<String> lossNames = new ArrayList<>();
    private final AdamW adam;
    private final Ema ema;
    private long step;

    public SiTTrainer(SiT model, TrainingPlan plan, LatentData data, TrainerSettings settings, Objective objective,
                      TargetSource targets) {
        if (objective instanceof Objective.GuidedFeatures && targets == null) {
            throw new IllegalArgumentException("the guided-features objective needs a target source (the teacher online or cached targets)");
        }
        if (plan.datasetSize() != data.size()) {
            throw new IllegalArgumentException("the plan covers " + plan.datasetSize() + " examples but the data has " + data.size());
        }
        this.model = model;
        this.plan = plan;
        this.data = data;
        this.settings = settings;
        this.objective = objective;
        this.targets = targets;
        this.sd = SameDiff.create();
        buildGraph();
        this.trainable = model.trainableNames();
        for (String name : trainable) params.put(name, sd.getVariable(name).getArr());
        this.adam = new AdamW(settings.optimizer());
        this.ema = new Ema(settings.emaDecay(), params);
    }

    private void buildGraph() {
        DataType type = model.dataType();
        var c = model.config();
        SDVariable xt = sd.placeHolder("x_t", type, -1, c.inChannels(), c.inputSize(), c.inputSize());
        SDVariable t = sd.placeHolder("t", type, -1);
        SDVariable y = sd.placeHolder("y", type, -1, c.labelRows());
        SDVariable v = sd.placeHolder("v", type, -1, c.inChannels(), c.inputSize(), c.inputSize());
        SiTOutputs out = model.build(sd, xt, t, y);
        SDVariable tImage = Path.perSample(t, 4);
        SDVariable vHat = settings.prediction().velocity(out.out().orElseThrow(), xt, tImage);
        SDVariable flow = Losses.meanSquare(vHat, v).rename(LOSS_FLOW);
        lossNames.add(LOSS_FLOW);
        SDVariable total = flow;
        SDVariable auxWeight = sd.placeHolder("aux_weight", type);
        if (objective instanceof Objective.VaeAlign a) {
            SDVariable head = out.align().orElseThrow(() -> new IllegalArgumentException(
                    "the VAE-align objective needs a SiT built with an align head on block " + a.block()));
            SDVariable align = Losses.maskedMeanSquare(head, v, tImage, a.window()).rename(LOSS_ALIGN);
            lossNames.add(LOSS_ALIGN);
            total = flow.add(align.mul(auxWeight));
        } else if (objective instanceof Objective.GuidedFeatures g) {
            if (out.projections().isEmpty()) {
                throw new IllegalArgumentException("the guided-features objective needs a SiT built with a projector on block " + g.block());
            }
            SDVariable proj = out.projections().get(0);
            SDVariable target = sd.placeHolder("target", type, -1, c.tokens(), model.projectors().get(0).outDim());
            SDVariable guided = Losses.maskedMeanSquare(proj, target, Path.perSample(t, 3), g.window()).rename(LOSS_GUIDED);
            lossNames.add(LOSS_GUIDED);
            total = flow.add(guided.mul(auxWeight));
        }
        sd.identity(LOSS, total);
        lossNames.add(0, LOSS);
        sd.setLossVariables(LOSS);
        GradientFunction.create(sd);
    }

    /** Runs steps until {@code untilStep} steps are done, reporting each; checkpoints go to {@code sink} every N steps and at the end. */
    public void train(long untilStep, java.util.function.Consumer<StepReport> progress, CheckpointSink sink) throws java.io.IOException {
        while (step < untilStep) {
            StepReport r = step();
            progress.accept(r);
            if (step % settings.checkpointEvery() == 0 || step == untilStep) sink.save(checkpoint(Map.of()));
        }
    }

    /** Where periodic checkpoints go. */
    public interface CheckpointSink {
        void save(Checkpoint checkpoint) throws java.io.IOException;
    }

    /** One optimisation step: the plan's batch for the next step, gradients, clipping, AdamW, EMA. */
    public StepReport step() {
        return step(TrainingBatch.of(plan, data, step));
    }

    /** One optimisation step on a given batch (the plan's, or a fixed one to check that the model can fit it). */
    StepReport step(TrainingBatch batch) {
        long t0 = System.nanoTime();
        Map<String, INDArray> feed = new HashMap<>();
        feed.put("x_t", batch.xt().castTo(model.dataType()));
        feed.put("t", batch.t().castTo(model.dataType()));
        feed.put("y", model.oneHot(java.util.Arrays.stream(batch.conditioningLabels()).asLongStream().toArray()));
        feed.put("v", batch.v().castTo(model.dataType()));
        feed.put("aux_weight", Nd4j.scalar(model.dataType(), auxiliaryWeight(step)));
        if (objective instanceof Objective.GuidedFeatures g) {
            feed.put("target", step < g.stopStep() ? targets.targets(batch).castTo(model.dataType())
                    : Nd4j.zeros(model.dataType(), batch.slots().size(), model.config().tokens(), model.projectors().get(0).outDim()));
        }
        OutAndGrad r = sd.calculateGradientsAndOutputs(feed, lossNames, trainable);
        Map<String, Double> losses = new LinkedHashMap<>();
        for (String name : lossNames) {
            double value = r.getOutputs().get(name).getDouble(0);
            if (!Double.isFinite(value)) throw new NonFiniteLossException(step + 1, name, value);
            losses.put(name, value);
        }
        Map<String, INDArray> grads = r.getGradients();
        List<INDArray> ordered = new ArrayList<>();
        for (String name : trainable) ordered.add(grads.get(name));
        double norm = GradientClipping.clip(ordered, settings.gradientClip());
        step++;
        adam.update(params, grads, step);
        ema.update(params);
        return new StepReport(step, losses, norm, System.nanoTime() - t0, batch.slots().size());
    }

    private double auxiliaryWeight(long s) {
        if (objective instanceof Objective.VaeAlign a) return a.weight();
        if (objective instanceof Objective.GuidedFeatures g) return s < g.stopStep() ? g.weight() : 0.0;
        return 0.0;
    }

    /** Everything needed to continue: weights, EMA, AdamW moments, the step. */
    public Checkpoint checkpoint(Map<String, String> metadata) {
        Map<String, INDArray> opt = new LinkedHashMap<>();
        adam.state().forEach((k, a) -> opt.put(k, a.dup()));
        Map<String, INDArray> emaCopy = new LinkedHashMap<>();
        ema.state().forEach((k, a) -> emaCopy.put(k, a.dup()));
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put("plan.position", Long.toString(step * plan.batchSize()));
        return new Checkpoint(model.stateDict(), emaCopy, opt, step, meta);
    }

    /** Continues from a checkpoint: the next step is the checkpoint's step + 1. */
    public void restore(Checkpoint c) {
        model.loadStateDict(c.weights());
        adam.loadState(c.optimizer());
        ema.loadState(c.ema());
        step = c.step();
    }

    public long completedSteps() {
        return step;
    }

    public SiT model() {
        return model;
    }

    /** The EMA weights under the PyTorch names (pos_embed from the model). */
    public Map<String, INDArray> emaStateDict() {
        Map<String, INDArray> sdict = model.stateDict();
        ema.weights().forEach((k, a) -> sdict.put(k, a.dup()));
        return sdict;
    }
}
