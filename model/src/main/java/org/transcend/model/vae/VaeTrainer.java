package org.transcend.model.vae;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.TimeDistribution;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.rng.CounterRng;
import org.transcend.model.train.AdamW;
import org.transcend.model.train.Checkpoint;
import org.transcend.model.train.GradientClipping;
import org.transcend.model.train.LearningRateSchedule;
import org.transcend.model.train.NonFiniteLossException;
import org.transcend.model.train.StepReport;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Trains a small AutoencoderKL on images in [−1, 1]: reconstruction (L1 and/or L2) plus a weighted KL term on a
 * reparameterised sample, AdamW with gradient clipping, forward and backward on a {@link VaeEngine}. Batches and the
 * sampling noise come from a training plan, so a run is a pure function of (images, settings, seed) and resumes
 * exactly from a checkpoint.
 */
public final class VaeTrainer {

    private final VaeConfig config;
    private final INDArray images;
    private final TrainingPlan plan;
    private final Map<String, INDArray> parameters;
    private final VaeEngine engine;
    private final VaeLoss.Weights weights;
    private final AdamW adam;
    private final double gradientClip;
    private final LearningRateSchedule schedule;
    private final long totalSteps;
    private long step;

    /** {@code images} [N, C, H, W] in [−1, 1], already padded to the config's resolution; a constant learning rate. */
    public VaeTrainer(VaeConfig config, INDArray images, int batch, long seed, AdamW.Hyper optimizer, double gradientClip,
                      VaeLoss.Weights weights) {
        this(config, images, batch, seed, optimizer, gradientClip, weights, LearningRateSchedule.CONSTANT, 0);
    }

    /** As above, the learning rate following {@code schedule} over a run of {@code totalSteps} updates. */
    public VaeTrainer(VaeConfig config, INDArray images, int batch, long seed, AdamW.Hyper optimizer, double gradientClip,
                      VaeLoss.Weights weights, LearningRateSchedule schedule, long totalSteps) {
        this.config = config.validate();
        this.images = images;
        this.plan = new TrainingPlan(seed, images.size(0), batch, new TimeDistribution.Uniform(), 0.0, 1);
        this.parameters = VaeGraph.initialParameters(config, seed);
        this.engine = new VaeEngine(config, parameters);
        this.weights = weights;
        this.adam = new AdamW(optimizer);
        this.gradientClip = gradientClip;
        this.schedule = schedule;
        this.totalSteps = totalSteps;
    }

    public StepReport step() {
        long t0 = System.nanoTime();
        List<TrainingPlan.Slot> slots = plan.batch(step);
        int[] rows = slots.stream().mapToInt(s -> Math.toIntExact(s.exampleIndex())).toArray();
        INDArray x = Nd4j.pullRows(images.reshape(images.size(0), -1), 1, rows)
                .reshape(rows.length, config.inChannels(), config.resolution(), config.resolution());
        long[] latentShape = {config.latentChannels(), config.latentResolution(), config.latentResolution()};
        INDArray noise = CounterRng.normalRows(slots.stream().map(TrainingPlan.Slot::noise).toList(), DataType.FLOAT, latentShape);
        VaeEngine.LossTerms terms = engine.loss(x, noise, weights);
        Map<String, Double> losses = new LinkedHashMap<>();
        losses.put("loss", terms.loss());
        losses.put("reconstruction", terms.reconstruction());
        losses.put("kl", terms.kl());
        for (Map.Entry<String, Double> e : losses.entrySet()) {
            if (!Double.isFinite(e.getValue())) throw new NonFiniteLossException(step + 1, e.getKey(), e.getValue());
        }
        Map<String, INDArray> gradients = engine.backward();
        double norm = GradientClipping.clip(gradients.values(), gradientClip);
        double lr = adam.hyper().lr() * schedule.factor(step, totalSteps);
        step++;
        adam.update(parameters, gradients, step, lr);
        return new StepReport(step, losses, norm, System.nanoTime() - t0, rows.length);
    }

    public long completedSteps() {
        return step;
    }

    /** The current parameters under their latent-diffusion names, copied. */
    public Map<String, INDArray> stateDict() {
        Map<String, INDArray> out = new LinkedHashMap<>();
        parameters.forEach((name, value) -> out.put(name, value.dup()));
        return out;
    }

    public Checkpoint checkpoint() {
        Map<String, INDArray> opt = new LinkedHashMap<>();
        adam.state().forEach((k, a) -> opt.put(k, a.dup()));
        return new Checkpoint(stateDict(), Map.of(), opt, step, Map.of());
    }

    public void restore(Checkpoint c) {
        VaeGraph.requireStateDict(config, c.weights());
        parameters.forEach((name, value) -> value.assign(c.weights().get(name)));
        adam.loadState(c.optimizer());
        step = c.step();
    }

    public AutoencoderKL autoencoder() {
        return new AutoencoderKL(config, parameters);
    }
}
