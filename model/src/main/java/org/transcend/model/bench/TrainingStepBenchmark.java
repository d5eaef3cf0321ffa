package org.transcend.model.bench;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.Guidance;
import org.transcend.model.flow.Prediction;
import org.transcend.model.flow.Sampler;
import org.transcend.model.flow.TimeDistribution;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.flow.VelocityModel;
import org.transcend.model.nn.PackedTensors;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.sit.ProjectorHead;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTConfig;
import org.transcend.model.sit.SiTEngine;
import org.transcend.model.train.AdamW;
import org.transcend.model.train.Ema;
import org.transcend.model.train.GradientClipping;
import org.transcend.model.train.LatentData;
import org.transcend.model.train.Objective;
import org.transcend.model.train.SiTTrainer;
import org.transcend.model.train.StepReport;
import org.transcend.model.train.TargetSource;
import org.transcend.model.train.TrainerSettings;
import org.transcend.model.train.TrainingBatch;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The SiT-core training-step benchmark: hidden 256, depth 6, 4 heads, 16×16×4 latents, patch 2, batch 64, a
 * projector on block 2 with its loss, AdamW and clipping. Prints, from one run: ms/step (median), images/s and
 * GFLOP/s; the step's forward, backward and optimiser shares; the time of the step's matrix products run alone
 * with {@code Nd4j.gemm} into preallocated outputs, the baseline the step is compared against; and sampling
 * throughput (Euler ODE, 50 steps, no guidance) on {@link SiTEngine#velocityModel}.
 */
public final class TrainingStepBenchmark {

    public record Shape(int hidden, int depth, int heads, int latent, int channels, int patch, int batch, int projectorHidden) {
        int tokens() {
            return (latent / patch) * (latent / patch);
        }

        /** Multiply-adds ×2 of one forward pass's matrix products (weights and attention). */
        double forwardFlops() {
            double t = tokens(), d = hidden, b = batch;
            double perBlock = 2 * t * d * 3 * d + 2 * t * d * d + 2 * 2 * t * d * 4 * d + 2 * 2 * t * t * d;
            double adaLN = 2 * d * 6 * d * (depth + 1.0 / 3) / t; // per token share of the per-sample modulation
            double embed = 2 * t * (patch * patch * channels) * d + 2 * t * d * patch * patch * channels;
            double projector = 2 * t * (d * projectorHidden + projectorHidden * projectorHidden + projectorHidden * d);
            return b * (depth * (perBlock + adaLN * t) + embed + projector);
        }
    }

    public static final Shape SIT_CORE = new Shape(256, 6, 4, 16, 4, 2, 64, 2048);
    /** Euler steps of the sampling measurement (the preview protocol of METHOD.md). */
    static final int SAMPLING_STEPS = 50;

    public static void main(String[] args) {
        org.transcend.model.nn.DeferredDeallocation.install(); // ND4J frees buffers under running ops otherwise
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        run(SIT_CORE, steps, System.out);
    }

    public static void run(Shape s, int steps, PrintStream out) {
        SiTConfig config = new SiTConfig(s.latent, s.patch, s.channels, s.hidden, s.depth, s.heads, 4.0, 10, false, 0.1);
        int n = s.batch * 4;
        Nd4j.getRandom().setSeed(0);
        LatentData data = new LatentData(Nd4j.randn(DataType.FLOAT, n, s.channels, s.latent, s.latent),
                Nd4j.rand(DataType.FLOAT, n, s.channels, s.latent, s.latent).muli(0.1), new int[n], 1.0, 0.0);
        TrainingPlan plan = new TrainingPlan(0, n, s.batch, new TimeDistribution.Uniform(), TrainingPlan.LABEL_DROP, 10);
        SiT student = SiT.initialise(config, List.of(new ProjectorHead(2, s.projectorHidden, s.hidden)), Optional.empty(), DataType.FLOAT, 1);
        INDArray zeros = Nd4j.zeros(DataType.FLOAT, s.batch, s.tokens(), s.hidden);
        // A fixed target keeps the benchmark to the student's step, the part PyTorch's figure measures.
        TargetSource fixed = b -> zeros;
        SiTTrainer trainer = new SiTTrainer(student, plan, data, new TrainerSettings(AdamW.Hyper.paper(), 1.0, 0.9999,
                Prediction.VELOCITY, steps + 1, 1000), new Objective.GuidedFeatures(2, TimeWindow.ALL, 0.5, Long.MAX_VALUE), fixed);
        out.printf("SiT training step: hidden %d, depth %d, heads %d, %dx%dx%d latents, patch %d, batch %d, %d threads%n",
                s.hidden, s.depth, s.heads, s.latent, s.latent, s.channels, s.patch, s.batch, Runtime.getRuntime().availableProcessors());
        String preload = Objects.requireNonNullElse(System.getenv("LD_PRELOAD"), "");
        out.printf("BLAS: %s; OMP_WAIT_POLICY=%s%n", preload.contains("openblas") ? "preloaded " + preload
                : "ND4J's bundled OpenBLAS 0.3.19 (its own threads)", Objects.requireNonNullElse(System.getenv("OMP_WAIT_POLICY"), "(libgomp's default)"));
        trainer.step(); // warm-up: first allocations
        List<Double> ms = new ArrayList<>();
        for (int i = 0; i < steps; i++) {
            StepReport r = trainer.step();
            ms.add(r.nanos() / 1e6);
        }
        double median = median(ms);
        double flops = 3 * s.forwardFlops();
        double[] passes = passTimes(student, TrainingBatch.of(plan, data, 0), s, Math.max(2, steps / 2));
        double gemmMs = gemmBaseline(s);
        out.printf("step: median %.0f ms over %d steps (all: %s)%n", median, steps, format(ms));
        out.printf("  alone: forward %.0f ms, backward %.0f ms, clipping + AdamW + EMA %.0f ms%n", passes[0], passes[1], passes[2]);
        out.printf("images/s: %.1f   GFLOP/s: %.1f   (%.1f GFLOP per step)%n", s.batch * 1000 / median, flops / median / 1e6, flops / 1e9);
        out.printf("the same GEMMs alone (Nd4j.gemm, preallocated): %.0f ms  ->  step / GEMM ratio %.2f%n", gemmMs, median / gemmMs);
        pytorch(s, steps).ifPresentOrElse(
                p -> {
                    out.printf("PyTorch, the same step measured now (%s; BLAS: %s): %.0f ms/step%n", p.description(), p.blas(), p.millis());
                    if (p.onReferenceBlas()) {
                        out.printf("  no ratio: this PyTorch multiplies matrices with the unoptimised reference BLAS, so it would flatter "
                                + "the engine; apt-get install libopenblas0-openmp (Debian's python3-torch then loads OpenBLAS) and run again%n");
                    } else {
                        out.printf("  ->  ratio %.2fx PyTorch's speed%n", p.millis() / median);
                    }
                },
                () -> out.printf("PyTorch: no python3 with torch found (set TRANSCEND_PYTHON, or apt-get install python3-torch) to "
                        + "measure it in this run%n"));
        out.printf("the issue's figure, PyTorch 2.13 on an AVX2 machine of this kind: ~1410 ms/step  ->  ratio %.2fx%n", 1410 / median);
        double sampleSeconds = samplingSeconds(student, s);
        out.printf("sampling: %d images, Euler ODE %d steps, no guidance: %.1f s  ->  %.2f images/s (%.0f ms per forward of %d)%n",
                s.batch, SAMPLING_STEPS, sampleSeconds, s.batch / sampleSeconds, sampleSeconds * 1000 / SAMPLING_STEPS, s.batch);
    }

    /** Median times in ms of the engine's forward and backward pass on one batch, and of clipping, AdamW and EMA. */
    static double[] passTimes(SiT sit, TrainingBatch batch, Shape s, int reps) {
        SiTEngine engine = new SiTEngine(sit);
        INDArray y = sit.oneHot(Arrays.stream(batch.conditioningLabels()).asLongStream().toArray());
        INDArray dOut = Nd4j.randn(DataType.FLOAT, batch.xt().shape()).muli(1e-4);
        INDArray dProj = Nd4j.randn(DataType.FLOAT, s.batch, s.tokens(), s.hidden).muli(1e-6);
        List<Double> forward = new ArrayList<>(), backward = new ArrayList<>();
        for (int i = 0; i <= reps; i++) {
            long t0 = System.nanoTime();
            engine.forward(batch.xt(), batch.t(), y);
            long t1 = System.nanoTime();
            engine.backward(Optional.of(dOut), Map.of(0, dProj), Optional.empty());
            long t2 = System.nanoTime();
            if (i > 0) { // the first pass allocates the buffers
                forward.add((t1 - t0) / 1e6);
                backward.add((t2 - t1) / 1e6);
            }
        }
        // on one flat buffer of every weight and one of every gradient, as SiTTrainer runs them
        Map<String, INDArray> byName = new java.util.LinkedHashMap<>();
        for (String name : sit.trainableNames()) byName.put(name, sit.parameter(name));
        Map<String, INDArray> params = Map.of("packed", PackedTensors.copyOf(byName, sit.dataType()).flat());
        Map<String, INDArray> grads = Map.of("packed", Nd4j.randn(DataType.FLOAT, params.get("packed").length()).muli(1e-3));
        AdamW adam = new AdamW(AdamW.Hyper.paper());
        Ema ema = new Ema(0.9999, params);
        List<Double> optimiser = new ArrayList<>();
        for (int i = 0; i <= reps; i++) {
            long t0 = System.nanoTime();
            GradientClipping.clip(grads.values(), 1.0);
            adam.update(params, grads, i + 1);
            ema.update(params);
            if (i > 0) optimiser.add((System.nanoTime() - t0) / 1e6);
        }
        return new double[]{median(forward), median(backward), median(optimiser)};
    }

    /** Seconds to sample one batch of images with the Euler ODE on the fast forward pass (after a warm-up call). */
    static double samplingSeconds(SiT sit, Shape s) {
        VelocityModel model = new SiTEngine(sit).velocityModel(Prediction.VELOCITY);
        Sampler sampler = new Sampler(Sampler.Method.EULER, SAMPLING_STEPS, Guidance.NONE, 10);
        INDArray labels = Nd4j.createFromArray(new long[s.batch]);
        long[] shape = {s.channels, s.latent, s.latent};
        new Sampler(Sampler.Method.EULER, 1, Guidance.NONE, 10).sample(model, labels, shape, 0, 0);
        long t0 = System.nanoTime();
        sampler.sample(model, labels, shape, 0, 0);
        return (System.nanoTime() - t0) / 1e9;
    }

    /** The step's matrix products (forward and both backward products of each), timed alone. */
    static double gemmBaseline(Shape s) {
        long rows = (long) s.batch * s.tokens();
        int d = s.hidden;
        List<long[]> shapes = new ArrayList<>(); // {m, k, n}
        for (int b = 0; b < s.depth; b++) {
            shapes.add(new long[]{rows, d, 3L * d});
            shapes.add(new long[]{rows, d, d});
            shapes.add(new long[]{rows, d, 4L * d});
            shapes.add(new long[]{rows, 4L * d, d});
        }
        shapes.add(new long[]{rows, d, s.projectorHidden});
        shapes.add(new long[]{rows, s.projectorHidden, s.projectorHidden});
        shapes.add(new long[]{rows, s.projectorHidden, d});
        List<INDArray[]> ops = new ArrayList<>();
        for (long[] mkn : shapes) {
            // forward (m×k · k×n), grad-input (m×n · n×k), grad-weight (k×m · m×n)
            ops.add(new INDArray[]{Nd4j.rand(DataType.FLOAT, mkn[0], mkn[1]), Nd4j.rand(DataType.FLOAT, mkn[1], mkn[2]), Nd4j.create(DataType.FLOAT, mkn[0], mkn[2])});
            ops.add(new INDArray[]{Nd4j.rand(DataType.FLOAT, mkn[0], mkn[2]), Nd4j.rand(DataType.FLOAT, mkn[2], mkn[1]), Nd4j.create(DataType.FLOAT, mkn[0], mkn[1])});
            ops.add(new INDArray[]{Nd4j.rand(DataType.FLOAT, mkn[1], mkn[0]), Nd4j.rand(DataType.FLOAT, mkn[0], mkn[2]), Nd4j.create(DataType.FLOAT, mkn[1], mkn[2])});
        }
        // attention: per (sample, head) T×hd · hd×T and T×T · T×hd, forward and backward (×3)
        int hd = d / s.heads, t = s.tokens();
        // into preallocated outputs, as the engine calls them (an allocating matmul costs ~8× as much here)
        long heads = (long) s.batch * s.heads;
        INDArray q = Nd4j.rand(DataType.FLOAT, heads, t, hd), k = Nd4j.rand(DataType.FLOAT, heads, hd, t);
        INDArray scores = Nd4j.create(DataType.FLOAT, heads, t, t), attended = Nd4j.create(DataType.FLOAT, heads, t, hd);
        List<Double> times = new ArrayList<>();
        for (int rep = 0; rep < 4; rep++) {
            long t0 = System.nanoTime();
            for (INDArray[] o : ops) Nd4j.gemm(o[0], o[1], o[2], false, false, 1.0, 0.0);
            for (int a = 0; a < 3 * s.depth; a++) {
                Nd4j.matmul(q, k, scores, false, false, false);
                Nd4j.matmul(scores, q, attended, false, false, false);
            }
            times.add((System.nanoTime() - t0) / 1e6);
        }
        return median(times.subList(1, times.size()));
    }

    /** PyTorch's median step time, what ran it and the BLAS library it loaded. */
    record PyTorchStep(double millis, String description, String blas) {
        /** Debian's netlib reference BLAS (libblas3), what libblas.so.3 is when no optimised BLAS is installed. */
        boolean onReferenceBlas() {
            return blas.contains("/blas/libblas.so");
        }
    }

    /**
     * Runs {@code pytorch_sit_step.py} (beside this class) on the same shape with the first python that has torch:
     * {@code TRANSCEND_PYTHON}, then {@code python3}, then {@code /usr/bin/python3} (Debian's python3-torch). The
     * benchmark's ratio is only meaningful against a baseline measured on the same machine in the same run.
     */
    static Optional<PyTorchStep> pytorch(Shape s, int steps) {
        try {
            Optional<String> python = Stream.of(System.getenv("TRANSCEND_PYTHON"), "python3", "/usr/bin/python3")
                    .filter(Objects::nonNull).filter(TrainingStepBenchmark::hasTorch).findFirst();
            if (python.isEmpty()) return Optional.empty();
            Path script = Files.createTempFile("pytorch_sit_step", ".py");
            try (var in = TrainingStepBenchmark.class.getResourceAsStream("pytorch_sit_step.py")) {
                Files.copy(Objects.requireNonNull(in, "pytorch_sit_step.py is missing from the jar"), script,
                        StandardCopyOption.REPLACE_EXISTING);
            }
            List<String> command = new ArrayList<>(List.of(python.get(), script.toString(), "--hidden", "" + s.hidden, "--depth", "" + s.depth,
                    "--heads", "" + s.heads, "--latent", "" + s.latent, "--channels", "" + s.channels, "--patch", "" + s.patch,
                    "--batch", "" + s.batch, "--projector-hidden", "" + s.projectorHidden, "--steps", "" + steps,
                    "--threads", "" + Runtime.getRuntime().availableProcessors()));
            // PyTorch at its best: OpenMP's wait policy moves its step by ~15% on two cores, one way or the other by machine,
            // so it runs under both and the faster counts.
            PyTorchStep best = null;
            for (String policy : List.of("PASSIVE", "ACTIVE")) {
                ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
                builder.environment().put("OMP_WAIT_POLICY", policy);
                Process p = builder.start();
                String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor();
                Matcher m = Pattern.compile("pytorch (\\S+) ms/step ([0-9.]+)").matcher(text);
                if (p.exitValue() != 0 || !m.find()) throw new IllegalStateException("the PyTorch step failed:\n" + text);
                Matcher blas = Pattern.compile("(?m)^blas (.+)$").matcher(text);
                PyTorchStep step = new PyTorchStep(Double.parseDouble(m.group(2)), "torch " + m.group(1) + ", " + python.get()
                        + ", OMP_WAIT_POLICY=" + policy, blas.find() ? blas.group(1) : "unknown");
                if (best == null || step.millis() < best.millis()) best = step;
            }
            Files.deleteIfExists(script);
            return Optional.of(best);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static boolean hasTorch(String python) {
        try {
            Process p = new ProcessBuilder(python, "-c", "import torch").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The median of timings (the mean of the middle two for an even count). */
    static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    private static String format(List<Double> ms) {
        return Arrays.toString(ms.stream().mapToLong(Math::round).toArray());
    }
}
