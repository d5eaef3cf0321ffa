package org.transcend.model.train;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.PausePoint;
import org.transcend.model.flow.Losses;
import org.transcend.model.flow.Path;
import org.transcend.model.nn.PackedTensors;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTEngine;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Trains a SiT by flow matching on latents, following the training plan: each step builds its batch from the
 * plan, adds the objective's auxiliary term (VAE alignment, guided teacher features, REPA, SRA, REG, or none), clips the
 * gradient norm, applies AdamW and updates the EMA. A checkpoint holds everything needed to continue
 * bit-identically. The passes run on {@link SiTEngine}; the SameDiff network is its reference.
 */
public final class SiTTrainer {

    public static final String LOSS = "loss";
    public static final String LOSS_FLOW = "loss_flow";
    public static final String LOSS_ALIGN = "loss_align";
    public static final String LOSS_GUIDED = "loss_guided";
    public static final String LOSS_REPA = "loss_repa";
    public static final String LOSS_SRA = "loss_sra";
    public static final String LOSS_REG = "loss_reg";

    private final SiT model;
    private final TrainingPlan plan;
    private final LatentData data;
    private final TrainerSettings settings;
    private final Objective objective;
    private final TargetSource targets;
    private final SiTEngine engine;
    /** The trainable weights in one flat buffer (the model computes with its views), aligned with the engine's gradients. */
    private final PackedTensors weights;
    /** The flat weights and gradients as the optimiser's and EMA's one-tensor maps. */
    private final Map<String, INDArray> flatWeights, flatGradients;
    private final AdamW adam;
    private final Ema ema;
    /** SRA's teacher, on the EMA below; null for the other objectives. */
    private final SelfRepresentationTeacher selfTeacher;
    private long step;

    public SiTTrainer(SiT model, TrainingPlan plan, LatentData data, TrainerSettings settings, Objective objective,
                      TargetSource targets) {
        if (objective instanceof Objective.GuidedFeatures && targets == null) {
            throw new IllegalArgumentException("the guided-features objective needs a target source (the teacher online or cached targets)");
        }
        if (objective instanceof Objective.RepresentationAlignment && targets == null) {
            throw new IllegalArgumentException("the REPA objective needs a target source (the per-image features)");
        }
        if (objective instanceof Objective.RepresentationAlignment r && model.projectors().isEmpty()) {
            throw new IllegalArgumentException("the REPA objective needs a SiT built with a projector on block " + r.block());
        }
        if (objective instanceof Objective.RepresentationEntanglement && targets == null) {
            throw new IllegalArgumentException("the REG objective needs a target source (the per-image global features g)");
        }
        if (objective instanceof Objective.RepresentationEntanglement && !model.config().hasGlobalToken()) {
            throw new IllegalArgumentException("the REG objective needs a SiT built with the global token (SiTConfig.globalDim > 0)");
        }
        if (objective instanceof Objective.SelfRepresentation r && model.sraHead().isEmpty()) {
            throw new IllegalArgumentException("the SRA objective needs a SiT built with an SRA head on block " + r.block());
        }
        if (plan.datasetSize() != data.size()) {
            throw new IllegalArgumentException("the plan covers " + plan.datasetSize() + " examples but the data has " + data.size());
        }
        if (objective instanceof Objective.VaeAlign a && model.alignHead().isEmpty()) {
            throw new IllegalArgumentException("the VAE-align objective needs a SiT built with an align head on block " + a.block());
        }
        if (objective instanceof Objective.GuidedFeatures g && model.projectors().isEmpty()) {
            throw new IllegalArgumentException("the guided-features objective needs a SiT built with a projector on block " + g.block());
        }
        this.model = model;
        this.plan = plan;
        this.data = data;
        this.settings = settings;
        this.objective = objective;
        this.targets = targets;
        this.weights = model.packTrainable();
        this.engine = new SiTEngine(model);
        if (!weights.sameLayout(engine.packedGradients())) {
            throw new IllegalStateException("the engine's gradients are not laid out as the weights: " + engine.packedGradients().names()
                    + " against " + weights.names());
        }
        this.flatWeights = Map.of(PACKED, weights.flat());
        this.flatGradients = Map.of(PACKED, engine.packedGradients().flat());
        this.adam = new AdamW(settings.optimizer());
        this.ema = new Ema(settings.emaDecay(), flatWeights);
        this.selfTeacher = objective instanceof Objective.SelfRepresentation r
                ? new SelfRepresentationTeacher(model.backboneOver(emaWeights()), plan, r.teacherBlock(), r.maxGap()) : null;
    }

    /**
     * ND4J frees a dead array's native buffer only when the JVM collects the array. A step leaves many such buffers
     * and little Java garbage, so collections would be rare and the resident memory would climb with the buffers
     * waiting for one; the loop asks for a collection at most this often (ND4J's own remedy, its "periodic GC").
     */
    static final long COLLECT_EVERY_MILLIS = 2000;

    /** Runs steps until {@code untilStep} steps are done, reporting each; checkpoints go to {@code sink} every N steps and at the end. */
    public void train(long untilStep, java.util.function.Consumer<StepReport> progress, CheckpointSink sink) throws java.io.IOException {
        long collected = System.currentTimeMillis();
        while (step < untilStep) {
            StepReport r = step();
            progress.accept(r);
            if (step % settings.checkpointEvery() == 0 || step == untilStep) sink.save(checkpoint(Map.of()));
            if (System.currentTimeMillis() - collected > COLLECT_EVERY_MILLIS) {
                System.gc();
                collected = System.currentTimeMillis();
            }
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
        Pass pass = pass(batch);
        // Clipping, AdamW and the EMA run on the flat buffers: one pass over all tensors each (see PackedTensors).
        double norm = GradientClipping.clip(flatGradients.values(), settings.gradientClip());
        step++;
        adam.update(flatWeights, flatGradients, step);
        PausePoint.reach("train-step");
        ema.update(flatWeights);
        return new StepReport(step, pass.losses(), norm, System.nanoTime() - t0, batch.slots().size());
    }

    /** A step's losses (the total first) and the total's gradients under the PyTorch names, before clipping. */
    record Pass(Map<String, Double> losses, Map<String, INDArray> gradients) {}

    /** The forward and backward pass of the next step on a batch; the gradients are the engine's buffers. */
    Pass pass(TrainingBatch batch) {
        DataType type = model.dataType();
        INDArray xt = batch.xt().castTo(type), t = batch.t().castTo(type), v = batch.v().castTo(type);
        INDArray y = model.oneHot(java.util.Arrays.stream(batch.conditioningLabels()).asLongStream().toArray());
        Optional<Entangled> global = objective instanceof Objective.RepresentationEntanglement ? Optional.of(entangled(batch, t)) : Optional.empty();
        SiTEngine.Outputs out = engine.forward(xt, global.map(Entangled::gt).orElse(null), t, y);

        Losses.ValueAndGradient flow = Losses.meanSquare(settings.prediction().velocity(out.out().orElseThrow(), xt, t), v);
        double auxWeight = auxiliaryWeight(step);
        Map<String, Double> losses = new LinkedHashMap<>();
        losses.put(LOSS, flow.value());
        losses.put(LOSS_FLOW, flow.value());
        Optional<INDArray> dAlign = Optional.empty();
        Optional<INDArray> dSra = Optional.empty();
        Optional<INDArray> dGlobal = Optional.empty();
        Map<Integer, INDArray> dProjections = Map.of();
        if (objective instanceof Objective.VaeAlign a) {
            Losses.ValueAndGradient align = Losses.maskedMeanSquare(out.align().orElseThrow(), v, t, a.window());
            losses.put(LOSS_ALIGN, align.value());
            losses.put(LOSS, flow.value() + auxWeight * align.value());
            dAlign = Optional.of(align.gradient().muli(auxWeight));
        } else if (objective instanceof Objective.GuidedFeatures g) {
            INDArray target = step < g.stopStep() ? targets.targets(batch).castTo(type)
                    : Nd4j.zeros(type, batch.slots().size(), model.config().tokens(), model.projectors().get(0).outDim());
            Losses.ValueAndGradient guided = Losses.maskedMeanSquare(out.projections().get(0), target, t, g.window());
            losses.put(LOSS_GUIDED, guided.value());
            losses.put(LOSS, flow.value() + auxWeight * guided.value());
            dProjections = Map.of(0, guided.gradient().muli(auxWeight));
        } else if (objective instanceof Objective.RepresentationAlignment) {
            Losses.ValueAndGradient repa = Losses.negativeCosine(out.projections().get(0), targets.targets(batch).castTo(type));
            losses.put(LOSS_REPA, repa.value());
            losses.put(LOSS, flow.value() + auxWeight * repa.value());
            dProjections = Map.of(0, repa.gradient().muli(auxWeight));
        } else if (objective instanceof Objective.SelfRepresentation) {
            Losses.ValueAndGradient sra = Losses.negativeCosine(out.sra().orElseThrow(), selfTeacher.features(batch));
            losses.put(LOSS_SRA, sra.value());
            losses.put(LOSS, flow.value() + auxWeight * sra.value());
            dSra = Optional.of(sra.gradient().muli(auxWeight));
        } else if (objective instanceof Objective.RepresentationEntanglement) {
            Losses.ValueAndGradient reg = Losses.meanSquare(out.global().orElseThrow(), global.orElseThrow().v());
            losses.put(LOSS_REG, reg.value());
            losses.put(LOSS, flow.value() + auxWeight * reg.value());
            dGlobal = Optional.of(reg.gradient().muli(auxWeight));
        }
        // The parts before the total, so the message names the part that went bad rather than their sum.
        for (Map.Entry<String, Double> e : losses.entrySet()) {
            if (!e.getKey().equals(LOSS) && !Double.isFinite(e.getValue())) throw new NonFiniteLossException(step + 1, e.getKey(), e.getValue());
        }
        if (!Double.isFinite(losses.get(LOSS))) throw new NonFiniteLossException(step + 1, LOSS, losses.get(LOSS));
        Map<String, INDArray> grads = engine.backward(
                Optional.of(settings.prediction().outputGradient(flow.gradient(), t)), dProjections, dAlign, dSra, dGlobal);
        return new Pass(losses, grads);
    }

    /** REG's global feature on the image's path: g_t = (1 − t)·g + t·ε_g and its velocity target v_g = ε_g − g, [N, Dg]. */
    private record Entangled(INDArray gt, INDArray v) {}

    private Entangled entangled(TrainingBatch batch, INDArray t) {
        int dim = model.config().globalDim();
        INDArray g = targets.targets(batch);
        if (g.length() != (long) batch.slots().size() * dim) {
            throw new IllegalArgumentException("REG's global features have shape " + java.util.Arrays.toString(g.shape())
                    + " but the SiT's global token takes " + dim + " values per image; accepted: [N, 1, " + dim + "] or [N, " + dim + "]");
        }
        g = g.castTo(model.dataType()).reshape(batch.slots().size(), dim);
        INDArray eps = plan.globalNoise(batch.slots(), dim).castTo(model.dataType());
        return new Entangled(Path.interpolate(g, eps, t), Path.velocity(g, eps));
    }

    private double auxiliaryWeight(long s) {
        if (objective instanceof Objective.VaeAlign a) return a.weight();
        if (objective instanceof Objective.GuidedFeatures g) return s < g.stopStep() ? g.weight() : 0.0;
        if (objective instanceof Objective.RepresentationAlignment r) return r.weight();
        if (objective instanceof Objective.SelfRepresentation r) return r.weight();
        if (objective instanceof Objective.RepresentationEntanglement r) return r.weight();
        return 0.0;
    }

    /** The key of the flat buffer in the optimiser's and EMA's maps; checkpoints keep one tensor per PyTorch name. */
    private static final String PACKED = "packed";

    /** Everything needed to continue: weights, EMA, AdamW moments, the step. */
    public Checkpoint checkpoint(Map<String, String> metadata) {
        Map<String, INDArray> opt = new LinkedHashMap<>();
        adam.state().forEach((k, a) -> {
            String prefix = k.substring(0, k.length() - PACKED.length()); // adam.m. or adam.v.
            weights.viewsOf(a).forEach((name, view) -> opt.put(prefix + name, view.dup()));
        });
        Map<String, INDArray> emaCopy = new LinkedHashMap<>();
        emaWeights().forEach((name, view) -> emaCopy.put("ema." + name, view.dup()));
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put("plan.position", Long.toString(step * plan.batchSize()));
        return new Checkpoint(model.stateDict(), emaCopy, opt, step, meta);
    }

    /** Continues from a checkpoint: the next step is the checkpoint's step + 1. */
    public void restore(Checkpoint c) {
        model.loadStateDict(c.weights());
        Map<String, INDArray> opt = new LinkedHashMap<>();
        for (String moment : List.of("adam.m.", "adam.v.")) {
            Map<String, INDArray> byName = new LinkedHashMap<>();
            c.optimizer().forEach((k, a) -> {
                if (k.startsWith(moment)) byName.put(k.substring(moment.length()), a);
            });
            // before its first step a checkpoint has no moments: AdamW starts them at zero, as it would have
            if (!byName.isEmpty()) opt.put(moment + PACKED, weights.pack(byName));
        }
        adam.loadState(opt);
        Map<String, INDArray> emaByName = new LinkedHashMap<>();
        c.ema().forEach((k, a) -> emaByName.put(k.substring("ema.".length()), a));
        if (!emaByName.isEmpty()) ema.loadState(Map.of("ema." + PACKED, weights.pack(emaByName)));
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
        emaWeights().forEach((k, a) -> sdict.put(k, a.dup()));
        return sdict;
    }

    /** The EMA's live tensors by PyTorch name: views of its flat buffer. */
    private Map<String, INDArray> emaWeights() {
        return weights.viewsOf(ema.weights().get(PACKED));
    }
}
