package org.transcend.model.bench;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.train.AdamW;
import org.transcend.model.train.GradientClipping;
import org.transcend.model.train.GradientFunction;
import org.transcend.model.vae.AutoencoderKL;
import org.transcend.model.vae.VaeConfig;
import org.transcend.model.vae.VaeEngine;
import org.transcend.model.vae.VaeGraph;
import org.transcend.model.vae.VaeLoss;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The VAE benchmark: training steps (loss, gradients, clipping, AdamW), encoding and decoding of the Fashion-MNIST
 * VAE, each through the SameDiff reference graph ({@link VaeGraph}, {@link VaeLoss#build}) and through the
 * {@link VaeEngine} (training as {@link org.transcend.model.vae.VaeTrainer} runs it, coding as {@link AutoencoderKL}
 * runs it), measured alternately in one run so the ratios hold on a shared machine. Prints images/s by the
 * wall clock and per CPU-second of this process (steadier when other processes compete for the cores).
 *
 * <p>{@code java ... org.transcend.model.bench.VaeBenchmark [repeats=3] [batch=32] [channels=32] [normGroups=32]}
 */
public final class VaeBenchmark {

    /** The encode and decode batch (EncodeLatents' and Sample's). */
    static final int CODING_BATCH = 64;
    private static final VaeLoss.Weights WEIGHTS = new VaeLoss.Weights(0, 1, 1e-6);
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    public static void main(String[] args) {
        org.transcend.model.nn.DeferredDeallocation.install(); // ND4J frees buffers under running ops otherwise
        int repeats = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        VaeConfig base = VaeConfig.fashionMnist();
        int channels = args.length > 2 ? Integer.parseInt(args[2]) : base.channels();
        int groups = args.length > 3 ? Integer.parseInt(args[3]) : base.normGroups();
        VaeConfig config = new VaeConfig(base.inChannels(), base.outChannels(), base.resolution(), channels, base.channelMultipliers(),
                base.resBlocksPerLevel(), base.attentionResolutions(), base.latentChannels(), true, groups).validate();
        run(config, batch, repeats, System.out);
    }

    /** A way to process one batch, timed by the wall clock and by this process's CPU time. */
    private record Timed(String name, int images, Runnable pass, List<Double> wallMs, List<Double> cpuMs) {
        Timed(String name, int images, Runnable pass) {
            this(name, images, pass, new ArrayList<>(), new ArrayList<>());
        }

        void measure(boolean keep) {
            long wall = System.nanoTime(), cpu = OS.getProcessCpuTime();
            pass.run();
            if (keep) {
                wallMs.add((System.nanoTime() - wall) / 1e6);
                cpuMs.add((OS.getProcessCpuTime() - cpu) / 1e6);
            }
        }

        double imagesPerSecond() {
            return images * 1000 / TrainingStepBenchmark.median(wallMs);
        }

        double imagesPerCpuSecond() {
            return images * 1000 / TrainingStepBenchmark.median(cpuMs);
        }
    }

    public static void run(VaeConfig config, int batch, int repeats, PrintStream out) {
        Map<String, INDArray> initial = VaeGraph.initialParameters(config, 1);
        int side = config.resolution(), latentSide = config.latentResolution(), z = config.latentChannels();
        Nd4j.getRandom().setSeed(0);
        INDArray images = Nd4j.rand(DataType.FLOAT, batch, config.inChannels(), side, side).muli(2).subi(1);
        INDArray noise = Nd4j.randn(DataType.FLOAT, batch, z, latentSide, latentSide);
        INDArray codingImages = Nd4j.rand(DataType.FLOAT, CODING_BATCH, config.inChannels(), side, side).muli(2).subi(1);
        INDArray codingLatents = Nd4j.randn(DataType.FLOAT, CODING_BATCH, z, latentSide, latentSide);

        SameDiffVae graph = new SameDiffVae(config, initial);
        Map<String, INDArray> parameters = copy(initial);
        VaeEngine engine = new VaeEngine(config, parameters);
        AutoencoderKL autoencoder = new AutoencoderKL(config, initial);
        AdamW engineAdam = new AdamW(AdamW.Hyper.paper());
        long[] engineStep = {0};

        List<Timed[]> pairs = List.of(
                new Timed[]{new Timed("train", batch, () -> graph.trainingStep(images, noise)),
                        new Timed("train", batch, () -> {
                            engine.loss(images, noise, WEIGHTS);
                            Map<String, INDArray> gradients = engine.backward();
                            GradientClipping.clip(gradients.values(), 1.0);
                            engineAdam.update(parameters, gradients, ++engineStep[0]);
                        })},
                new Timed[]{new Timed("encode", CODING_BATCH, () -> graph.encode(codingImages)),
                        new Timed("encode", CODING_BATCH, () -> autoencoder.encode(codingImages))},
                new Timed[]{new Timed("decode", CODING_BATCH, () -> graph.decode(codingLatents)),
                        new Timed("decode", CODING_BATCH, () -> autoencoder.decode(codingLatents))});

        out.printf("VAE %s%ntraining batch %d, encode/decode batch %d, %d measured repeats after one warm-up, %d processors, "
                        + "load average %.1f at the start%n", config, batch, CODING_BATCH, repeats,
                Runtime.getRuntime().availableProcessors(), OS.getSystemLoadAverage());
        for (int r = 0; r <= repeats; r++) {
            for (Timed[] pair : pairs) {
                pair[0].measure(r > 0);
                pair[1].measure(r > 0);
            }
        }
        out.printf("%-7s %12s %12s %8s   %14s %14s %8s%n", "", "SameDiff", "engine", "ratio", "SameDiff/cpu-s", "engine/cpu-s", "ratio");
        for (Timed[] pair : pairs) {
            out.printf("%-7s %8.1f im/s %7.1f im/s %7.1fx   %9.1f im/s %9.1f im/s %7.1fx%n", pair[0].name(),
                    pair[0].imagesPerSecond(), pair[1].imagesPerSecond(), pair[1].imagesPerSecond() / pair[0].imagesPerSecond(),
                    pair[0].imagesPerCpuSecond(), pair[1].imagesPerCpuSecond(), pair[1].imagesPerCpuSecond() / pair[0].imagesPerCpuSecond());
        }
        out.printf("load average %.1f at the end%n", OS.getSystemLoadAverage());
    }

    /** The autoencoder and its training step as SameDiff graphs, the way they ran before the engine. */
    private static final class SameDiffVae {
        private final SameDiff training = SameDiff.create(), inference = SameDiff.create();
        private final Map<String, INDArray> trainable = new LinkedHashMap<>();
        private final List<String> names;
        private final AdamW adam = new AdamW(AdamW.Hyper.paper());
        private final String loss, mean, std, moments, decoded;
        private long step;

        SameDiffVae(VaeConfig config, Map<String, INDArray> initial) {
            int side = config.resolution(), latentSide = config.latentResolution(), z = config.latentChannels();
            VaeGraph trainGraph = VaeGraph.declare(training, config, initial);
            SDVariable x = training.placeHolder("images", DataType.FLOAT, -1, config.inChannels(), side, side);
            SDVariable eps = training.placeHolder("noise", DataType.FLOAT, -1, z, latentSide, latentSide);
            loss = VaeLoss.build(trainGraph, x, eps, WEIGHTS).loss().name();
            training.setLossVariables(loss);
            GradientFunction.create(training);
            names = List.copyOf(VaeGraph.parameterShapes(config).keySet());
            for (String name : names) trainable.put(name, training.getArrForVarName(name));

            VaeGraph graph = VaeGraph.declare(inference, config, initial);
            SDVariable momentsVariable = graph.moments(inference.placeHolder("images", DataType.FLOAT, -1, config.inChannels(), -1, -1));
            VaeGraph.PosteriorVariables posterior = graph.posterior(momentsVariable);
            moments = momentsVariable.name();
            mean = posterior.mean().name();
            std = posterior.std().name();
            decoded = graph.decode(inference.placeHolder("latents", DataType.FLOAT, -1, z, -1, -1)).name();
        }

        void trainingStep(INDArray images, INDArray noise) {
            Map<String, INDArray> gradients = training.calculateGradientsAndOutputs(Map.of("images", images, "noise", noise),
                    List.of(loss), names).getGradients();
            GradientClipping.clip(names.stream().map(gradients::get).toList(), 1.0);
            adam.update(trainable, gradients, ++step);
        }

        void encode(INDArray images) {
            inference.output(Map.of("images", images), mean, std, moments);
        }

        void decode(INDArray latents) {
            inference.output(Map.of("latents", latents), decoded);
        }
    }

    private static Map<String, INDArray> copy(Map<String, INDArray> tensors) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        tensors.forEach((name, value) -> out.put(name, value.dup()));
        return out;
    }
}
