package org.transcend.model.vae;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.TimeDistribution;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.rng.CounterRng;
import org.transcend.model.rng.Purpose;
import org.transcend.model.train.AdamW;
import org.transcend.model.train.Checkpoint;
import org.transcend.model.train.GradientClipping;
import org.transcend.model.train.GradientFunction;
import org.transcend.model.train.NonFiniteLossException;
import org.transcend.model.train.StepReport;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Trains a small AutoencoderKL on images in [−1, 1]: reconstruction (L1 and/or L2) plus a weighted KL term on a
 * reparameterised sample, AdamW with gradient clipping. Batches and the sampling noise come from a training plan,
 * so a run is a pure function of (images, settings, seed) and resumes exactly from a checkpoint.
 */
public final class VaeTrainer {

    private final VaeConfig config;
    private final INDArray images;
    private final TrainingPlan plan;
    private final SameDiff sd = SameDiff.create();
    private final VaeGraph graph;
    private final AdamW adam;
    private final double gradientClip;
    private final List<String> names;
    private final Map<String, INDArray> params = new LinkedHashMap<>();
    private long step;

    /** {@code images} [N, C, H, W] in [−1, 1], already padded to the config's resolution. */
    public VaeTrainer(VaeConfig config, INDArray images, int batch, long seed, AdamW.Hyper optimizer, double gradientClip,
                      VaeLoss.Weights weights) {
        this.config = config.validate();
        this.images = images;
        this.plan = new TrainingPlan(seed, images.size(0), batch, new TimeDistribution.Uniform(), 0.0, 1);
        this.graph = VaeGraph.declare(sd, config, VaeGraph.initialParameters(config, seed));
        int f = config.downsamplingFactor();
        SDVariable x = sd.placeHolder("images", DataType.FLOAT, -1, config.inChannels(), config.resolution(), config.resolution());
        SDVariable noise = sd.placeHolder("noise", DataType.FLOAT, -1, config.latentChannels(), config.resolution() / f, config.resolution() / f);
        VaeLoss.Terms terms = VaeLoss.build(graph, x, noise, weights);
        terms.loss().rename("loss");
        terms.reconstruction().rename("reconstruction");
        terms.kl().rename("kl");
        sd.setLossVariables("loss");
        GradientFunction.create(sd);
        this.names = new ArrayList<>(VaeGraph.parameterShapes(config).keySet());
        for (String n : names) params.put(n, sd.getArrForVarName(n));
        this.adam = new AdamW(optimizer);
        this.gradientClip = gradientClip;
    }

    public StepReport step() {
        long t0 = System.nanoTime();
        List<TrainingPlan.Slot> slots = plan.batch(step);
        int[] rows = slots.stream().mapToInt(s -> Math.toIntExact(s.exampleIndex())).toArray();
        INDArray x = Nd4j.pullRows(images.reshape(images.size(0), -1), 1, rows)
                .reshape(rows.length, config.inChannels(), config.resolution(), config.resolution());
        int f = config.downsamplingFactor();
        long[] latentShape = {config.latentChannels(), config.resolution() / f, config.resolution() / f};
        List<CounterRng> keys = slots.stream().map(TrainingPlan.Slot::noise).toList();
        INDArray noise = CounterRng.normalRows(keys, DataType.FLOAT, latentShape);
        Map<String, INDArray> feed = new HashMap<>();
        feed.put("images", x);
        feed.put("noise", noise);
        OutAndGrad r = sd.calculateGradientsAndOutputs(feed, List.of("loss", "reconstruction", "kl"), names);
        Map<String, Double> losses = new LinkedHashMap<>();
        for (String n : List.of("loss", "reconstruction", "kl")) {
            double v = r.getOutputs().get(n).getDouble(0);
            if (!Double.isFinite(v)) throw new NonFiniteLossException(step + 1, n, v);
            losses.put(n, v);
        }
        List<INDArray> grads = new ArrayList<>();
        for (String n : names) grads.add(r.getGradients().get(n));
        double norm = GradientClipping.clip(grads, gradientClip);
        step++;
        adam.update(params, r.getGradients(), step);
        return new StepReport(step, losses, norm, System.nanoTime() - t0, rows.length);
    }

    public long completedSteps() {
        return step;
    }

    public Map<String, INDArray> stateDict() {
        return graph.stateDict();
    }

    public Checkpoint checkpoint() {
        Map<String, INDArray> opt = new LinkedHashMap<>();
        adam.state().forEach((k, a) -> opt.put(k, a.dup()));
        return new Checkpoint(graph.stateDict(), Map.of(), opt, step, Map.of());
    }

    public void restore(Checkpoint c) {
        graph.loadStateDict(c.weights());
        adam.loadState(c.optimizer());
        step = c.step();
    }

    public AutoencoderKL autoencoder() {
        return new AutoencoderKL(config, graph.stateDict());
    }
}
