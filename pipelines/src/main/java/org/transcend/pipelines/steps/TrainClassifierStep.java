package org.transcend.pipelines.steps;

import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificDatumReader;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.eval.DomainClassifier;
import org.transcend.model.flow.TimeDistribution;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.rng.CounterRng;
import org.transcend.model.train.AdamW;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.CheckpointMeta;
import org.transcend.schemas.ImageRecord;
import org.transcend.stages.importing.ImportImages;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Tensors;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * Trains the {@link DomainClassifier} whose features give the domain Fréchet distance where no Inception weights
 * exist, on one worker, from the imported images.
 *
 * <p>Held out for its accuracy: an image whose id hashes (Java's {@code String.hashCode}, mixed with the run seed
 * by SplitMix64, as a uniform number in [0, 1)) below {@code eval.classifier-holdout}. The slice depends on
 * neither the order nor the number of the other images. The rest is trained on in the order of a
 * {@link TrainingPlan} over the id-sorted training images, so the classifier is a function of (data, settings).
 */
public final class TrainClassifierStep implements PipelineStage {

    public static final String NAME = "train-classifier";
    public static final String CLASSIFIER_FILE = "classifier.safetensors";
    public static final String HELD_OUT_ACCURACY = "heldout_accuracy";

    @Override
    public StageIdentity identity() {
        return new StageIdentity(NAME, 1, CheckpointMeta.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        return List.of(EVAL_CLASSIFIER_STEPS.key(), EVAL_CLASSIFIER_BATCH.key(), EVAL_CLASSIFIER_LR.key(),
                EVAL_CLASSIFIER_HOLDOUT.key(), RUN_SEED.key());
    }

    @Override
    public List<String> upstream() {
        return List.of(ImportImages.STAGE);
    }

    /** Images as bytes with their labels, in id order. */
    record LabelledImages(List<String> ids, List<byte[]> pixels, int[] labels, int channels, int size) {
        int count() {
            return labels.length;
        }

        /** [n, C, H, W] in [0, 1] for the images at {@code indices}. */
        INDArray images01(long[] indices) {
            int each = channels * size * size;
            float[] v = new float[indices.length * each];
            for (int i = 0; i < indices.length; i++) {
                byte[] b = pixels.get((int) indices[i]);
                for (int j = 0; j < each; j++) v[i * each + j] = (b[j] & 0xFF) / 255f;
            }
            return Nd4j.create(v, new long[]{indices.length, channels, size, size}, 'c');
        }

        int[] labels(long[] indices) {
            return Arrays.stream(indices).mapToInt(i -> labels[(int) i]).toArray();
        }
    }

    /** Whether the image with this id is in the held-out slice. */
    static boolean heldOut(String id, long seed, double fraction) {
        long word = CounterRng.mix(CounterRng.mix(seed) ^ id.hashCode());
        return (word >>> 11) * 0x1.0p-53 < fraction;
    }

    @Override
    public StageOutcome build(StageContext ctx) throws IOException {
        // The classifier trains in the launcher, outside Beam: a dry run has no job of it to translate.
        if (ctx.dryRun()) return new StageOutcome(Map.of(), Map.of());
        Settings s = ctx.settings();
        long seed = s.getLong(RUN_SEED.key());
        double holdout = s.getDouble(EVAL_CLASSIFIER_HOLDOUT.key());
        List<ImageRecord> records = readImages(ctx.upstreamDir(ImportImages.STAGE));
        List<ImageRecord> train = new ArrayList<>(), held = new ArrayList<>();
        for (ImageRecord r : records) (heldOut(r.getId().toString(), seed, holdout) ? held : train).add(r);
        if (train.isEmpty() || held.isEmpty()) {
            throw new IllegalStateException(records.size() + " imported images split into " + train.size() + " to train on and "
                    + held.size() + " held out; both need at least one image (import more, or change eval.classifier-holdout)");
        }
        int numClasses = Math.max(2, records.stream().mapToInt(ImageRecord::getLabel).max().orElse(0) + 1);
        LabelledImages trainSet = labelled(train), heldSet = labelled(held);
        DomainClassifier classifier = train(trainSet, numClasses, s.getLong(EVAL_CLASSIFIER_STEPS.key()),
                s.getInt(EVAL_CLASSIFIER_BATCH.key()), s.getDouble(EVAL_CLASSIFIER_LR.key()), seed, System.out);
        long[] all = java.util.stream.LongStream.range(0, heldSet.count()).toArray();
        double accuracy = classifier.accuracy(heldSet.images01(all), heldSet.labels(all));
        System.out.printf(Locale.ROOT, "[%s] held-out accuracy %.4f on %d images%n", NAME, accuracy, heldSet.count());
        String target = ctx.outputDir() + CLASSIFIER_FILE;
        Path local = LocalCopies.staging(target);
        classifier.write(local);
        LocalCopies.publish(local, target);
        return new StageOutcome(Map.of("train_images", (long) trainSet.count(), "heldout_images", (long) heldSet.count()),
                Map.of(HELD_OUT_ACCURACY, accuracy));
    }

    /** Trains a {@link DomainClassifier#small} classifier for {@code steps} AdamW steps on the plan's batches. */
    static DomainClassifier train(LabelledImages set, int numClasses, long steps, int batchSize, double lr, long seed, PrintStream log) {
        DomainClassifier classifier = DomainClassifier.initialise(DomainClassifier.Config.small(set.channels(), set.size(), numClasses),
                DataType.FLOAT, seed);
        TrainingPlan plan = new TrainingPlan(seed, set.count(), batchSize, new TimeDistribution.Uniform(), 0, numClasses);
        AdamW optimizer = new AdamW(new AdamW.Hyper(lr, 0.9, 0.999, 1e-8, 0));
        long every = Math.max(1, steps / 10), started = System.nanoTime();
        double loss = 0;
        for (long step = 0; step < steps; step++) {
            long[] indices = plan.batch(step).stream().mapToLong(TrainingPlan.Slot::exampleIndex).toArray();
            double l = classifier.trainStep(set.images01(indices), set.labels(indices), optimizer, step + 1);
            loss = step == 0 ? l : 0.98 * loss + 0.02 * l;
            if ((step + 1) % every == 0 || step + 1 == steps) {
                double seconds = (System.nanoTime() - started) / 1e9;
                long eta = Math.round(seconds / (step + 1) * (steps - step - 1));
                log.printf(Locale.ROOT, "[%s] step %d/%d  loss %.4f  %.0f img/s  ETA %dm%02ds%n", NAME, step + 1, steps, loss,
                        (step + 1) * batchSize / seconds, eta / 60, eta % 60);
            }
        }
        return classifier;
    }

    static LabelledImages labelled(List<ImageRecord> records) {
        long[] shape = Tensors.shape(records.get(0).getPixels());
        if (shape.length != 3 || shape[1] != shape[2]) {
            throw new IllegalArgumentException("the domain classifier takes square [C, H, W] images; image "
                    + records.get(0).getId() + " has shape " + Arrays.toString(shape));
        }
        List<String> ids = new ArrayList<>();
        List<byte[]> pixels = new ArrayList<>();
        int[] labels = new int[records.size()];
        for (int i = 0; i < records.size(); i++) {
            ImageRecord r = records.get(i);
            if (!Arrays.equals(Tensors.shape(r.getPixels()), shape)) {
                throw new IllegalArgumentException("image " + r.getId() + " has shape " + Arrays.toString(Tensors.shape(r.getPixels()))
                        + ", unlike the first image's " + Arrays.toString(shape) + "; the classifier needs one shape");
            }
            ids.add(r.getId().toString());
            pixels.add(Tensors.bytes(r.getPixels()));
            labels[i] = r.getLabel();
        }
        return new LabelledImages(ids, pixels, labels, (int) shape[0], (int) shape[1]);
    }

    /** Every imported image, sorted by id so that the order does not depend on how the import was sharded. */
    static List<ImageRecord> readImages(String importDir) throws IOException {
        List<ImageRecord> out = new ArrayList<>();
        for (String f : LocalCopies.list(Handoffs.pattern(importDir, ImportStep.IMAGES))) {
            try (DataFileReader<ImageRecord> r = new DataFileReader<>(LocalCopies.fetch(f).toFile(), new SpecificDatumReader<>(ImageRecord.class))) {
                for (ImageRecord rec : r) out.add(rec);
            }
        }
        if (out.isEmpty()) throw new IllegalStateException("no images in " + Handoffs.pattern(importDir, ImportStep.IMAGES));
        out.sort(Comparator.comparing(r -> r.getId().toString()));
        return out;
    }
}
