package org.transcend.stages.vae;

import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PBegin;
import org.apache.beam.sdk.values.PCollection;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.transcend.model.io.Safetensors;
import org.transcend.model.train.AdamW;
import org.transcend.model.train.LearningRateSchedule;
import org.transcend.model.vae.AutoencoderKL;
import org.transcend.model.vae.VaeConfig;
import org.transcend.model.vae.VaeLoss;
import org.transcend.model.vae.VaeTrainer;
import org.transcend.model.vae.VaeWeights;
import org.transcend.schemas.CheckpointMeta;
import org.transcend.schemas.ImageRecord;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Tensors;
import org.transcend.stages.sampling.Images;
import org.transcend.stages.training.Checkpoints;
import org.transcend.stages.training.Progress;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The TrainVae stage: when the user gives no VAE weights, trains a small AutoencoderKL on the imported images as
 * one worker, checkpointing into the artifact directory and resuming from the newest checkpoint when rerun. Its
 * artifact holds the weights (latent-diffusion names), the held-out reconstruction PSNR and a PNG grid of held-out
 * originals above their reconstructions.
 */
public final class TrainVae extends PTransform<PBegin, PCollection<CheckpointMeta>> {

    public static final String WEIGHTS = "vae.safetensors";
    public static final String GRID = "reconstructions.png";
    public static final String NAMESPACE = "train-vae";

    /** @param heldOut the last N images by id are held out for the PSNR and the grid */
    public record Spec(String importDir, String outputDir, int channels, int resolution, int baseChannels, List<Integer> multipliers,
                       int normGroups, int latentChannels, long steps, int batch, double lr, LearningRateSchedule schedule,
                       double l1, double l2, double kl,
                       long checkpointEvery, long logEvery, int heldOut, long seed) implements Serializable {
        public VaeConfig config() {
            return new VaeConfig(channels, channels, resolution, baseChannels, multipliers, 1, List.of(), latentChannels, true,
                    normGroups).validate();
        }
    }

    private final Spec spec;

    public TrainVae(Spec spec) {
        this.spec = spec;
    }

    @Override
    public PCollection<CheckpointMeta> expand(PBegin input) {
        return input.apply("One trainer", Create.of(spec.outputDir())).apply("Train the VAE", ParDo.of(new TrainFn(spec)));
    }

    static final class TrainFn extends DoFn<String, CheckpointMeta> {
        private final Spec spec;
        private final Counter steps = Metrics.counter(NAMESPACE, "steps");

        TrainFn(Spec spec) {
            this.spec = spec;
        }

        @ProcessElement
        public void process(OutputReceiver<CheckpointMeta> out) throws IOException {
            List<ImageRecord> all = VaeImages.readAll(spec.importDir());
            int held = Math.min(spec.heldOut(), Math.max(1, all.size() / 10));
            List<ImageRecord> train = all.subList(0, all.size() - held), test = all.subList(all.size() - held, all.size());
            INDArray images = VaeImages.stack(train, spec.channels(), spec.resolution());
            VaeTrainer trainer = new VaeTrainer(spec.config(), images, spec.batch(), spec.seed(),
                    new AdamW.Hyper(spec.lr(), 0.9, 0.999, 1e-8, 0.0), 1.0, new VaeLoss.Weights(spec.l1(), spec.l2(), spec.kl()),
                    spec.schedule(), spec.steps());
            Checkpoints.newest(spec.outputDir()).ifPresent(c -> {
                trainer.restore(c);
                System.out.printf("[train-vae] resuming from step %d%n", c.step());
            });
            Path metrics = LocalCopies.staging(spec.outputDir() + "metrics.jsonl");
            long before = trainer.completedSteps();
            try (Progress progress = new Progress("train-vae", spec.steps(), spec.logEvery(), System.out, metrics)) {
                while (trainer.completedSteps() < spec.steps()) {
                    progress.report(trainer.step());
                    long s = trainer.completedSteps();
                    if (s % spec.checkpointEvery() == 0 || s == spec.steps()) {
                        progress.flush();
                        Checkpoints.save(trainer.checkpoint(), Checkpoints.path(spec.outputDir(), s));
                    }
                }
            }
            steps.inc(trainer.completedSteps() - before);
            LocalCopies.publish(metrics, spec.outputDir() + "metrics.jsonl");
            Path weights = LocalCopies.staging(spec.outputDir() + WEIGHTS);
            Safetensors.write(weights, trainer.stateDict(), VaeWeights.metadata(spec.config()), Safetensors.Dtype.F32);
            LocalCopies.publish(weights, spec.outputDir() + WEIGHTS);
            double db = heldOutPsnr(trainer.autoencoder(), test);
            System.out.printf("[train-vae] held-out reconstruction PSNR %.2f dB on %d images%n", db, test.size());
            out.output(new CheckpointMeta("vae", Map.of("resolution", Integer.toString(spec.resolution())), trainer.completedSteps(),
                    trainer.completedSteps() * spec.batch(), WEIGHTS, Map.of("psnr_db", db)));
        }

        /** PSNR over the held-out images in [0, 1], on the original (unpadded) pixels; writes the grid. */
        private double heldOutPsnr(AutoencoderKL vae, List<ImageRecord> test) throws IOException {
            double se = 0;
            long count = 0;
            List<byte[]> originals = new ArrayList<>(), reconstructions = new ArrayList<>();
            long[] shape = Tensors.shape(test.get(0).getPixels());
            for (int from = 0; from < test.size(); from += 64) {
                List<ImageRecord> chunk = test.subList(from, Math.min(test.size(), from + 64));
                INDArray x = VaeImages.stack(chunk, spec.channels(), spec.resolution());
                INDArray rec = vae.decode(vae.encode(x).mean());
                long top = (spec.resolution() - shape[1]) / 2, left = (spec.resolution() - shape[2]) / 2;
                var rows = NDArrayIndex.interval(top, top + shape[1]);
                var cols = NDArrayIndex.interval(left, left + shape[2]);
                INDArray a = x.get(NDArrayIndex.all(), NDArrayIndex.all(), rows, cols).add(1).divi(2);
                INDArray b = org.nd4j.linalg.ops.transforms.Transforms.min(org.nd4j.linalg.ops.transforms.Transforms.max(
                        rec.get(NDArrayIndex.all(), NDArrayIndex.all(), rows, cols).add(1).divi(2), 0.0), 1.0);
                double norm = a.sub(b).norm2Number().doubleValue();
                se += norm * norm;
                count += a.length();
                for (int i = 0; i < chunk.size() && originals.size() < 16; i++) {
                    originals.add(Tensors.bytes(chunk.get(i).getPixels()));
                    reconstructions.add(bytes(b.slice(i)));
                }
            }
            List<byte[]> cells = new ArrayList<>(originals);
            cells.addAll(reconstructions);
            Path grid = LocalCopies.staging(spec.outputDir() + GRID);
            Files.write(grid, Images.grid(cells, 2, originals.size(), (int) shape[0], (int) shape[1], (int) shape[2]));
            LocalCopies.publish(grid, spec.outputDir() + GRID);
            return 10 * Math.log10(1.0 / (se / count));
        }

        private static byte[] bytes(INDArray chw01) {
            float[] v = chw01.dup('c').reshape(chw01.length()).toFloatVector();
            byte[] b = new byte[v.length];
            for (int i = 0; i < v.length; i++) b[i] = (byte) Math.round(v[i] * 255);
            return b;
        }
    }
}
