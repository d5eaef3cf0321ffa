package org.transcend.pipelines;

import org.apache.avro.Schema;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.extensions.avro.coders.AvroCoder;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.transforms.Create;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.model.eval.DomainClassifier;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.steps.EvaluateStep;
import org.transcend.pipelines.steps.ReferenceStatsStep;
import org.transcend.pipelines.steps.ImportStep;
import org.transcend.pipelines.steps.TrainClassifierStep;
import org.transcend.schemas.EvalReport;
import org.transcend.schemas.FeatureStats;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.SampleRecord;
import org.transcend.schemas.StageRun;
import org.transcend.stages.evaluation.ComputeFid;
import org.transcend.stages.importing.ImportImages;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.io.Npz;
import org.transcend.stages.io.Tensors;
import org.transcend.stages.sampling.Images;
import org.transcend.pipelines.store.ArtifactStore;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class EvaluatePipelineTest {

    private static final int IMAGES = 60;

    @TempDir
    Path tmp;

    private final ByteArrayOutputStream log = new ByteArrayOutputStream();

    /**
     * Stands in for the sample stage: writes the given pixels as SampleRecords, as the real one writes its samples.
     * Its version stands for the model that made them, so each set of samples has its own key.
     */
    private record HandWrittenSamples(int version, List<byte[]> images) implements PipelineStage {
        @Override
        public StageIdentity identity() {
            return new StageIdentity("sample", version, SampleRecord.getClassSchema());
        }

        @Override
        public List<String> settingKeys(Settings settings) {
            return List.of();
        }

        @Override
        public List<String> upstream() {
            return List.of();
        }

        @Override
        public StageOutcome build(StageContext ctx) {
            List<SampleRecord> records = new ArrayList<>();
            for (int i = 0; i < images.size(); i++) {
                byte[] px = images.get(i);
                records.add(new SampleRecord((long) i, i % 10, 7L, Tensors.uint8(px, 1, 28, 28), ByteBuffer.wrap(Images.png(px, 1, 28, 28))));
            }
            Pipeline p = Pipeline.create(ctx.options());
            Handoffs.write(p.apply(Create.of(records).withCoder(AvroCoder.of(SampleRecord.class))), SampleRecord.class,
                    ctx.outputDir(), EvaluateStep.SAMPLES, 2);
            p.run().waitUntilFinish();
            return new StageOutcome(Map.of("samples", (long) images.size()), Map.of());
        }
    }

    /** The pixels TestDatasets.fashionMnist gives image i, optionally shifted (wrapping) by {@code shift}. */
    private static byte[] datasetImage(int i, int shift) {
        byte[] b = new byte[28 * 28];
        for (int p = 0; p < b.length; p++) b[p] = (byte) ((i * 7 + p + shift) & 0xFF);
        return b;
    }

    private RunRecord run(Path store, int model, List<byte[]> samples, String... settings) throws Exception {
        Settings s = Settings.resolve(null, List.of(settings));
        PipelineOptions options = PipelineOptionsFactory.create();
        PipelineDefinition def = new PipelineDefinition("evaluate-test", "import, classifier, hand-written samples, evaluate",
                List.of(new ImportStep(), new TrainClassifierStep(), new HandWrittenSamples(model, samples), new ReferenceStatsStep(s), new EvaluateStep("sample", s)));
        return new Orchestrator(new ArtifactStore(store.toString()), s, options, new PrintStream(log, true)).run(def, Set.of(), Set.of());
    }

    @Test
    void theTrainingImagesAsSamplesAreAtDistanceZeroAndShiftedOnesAreNot() throws Exception {
        Path data = TestDatasets.fashionMnist(tmp.resolve("fm"), IMAGES, 0);
        Path store = tmp.resolve("store");
        String[] settings = {"data.path=" + data, "eval.classifier-steps=6", "eval.classifier-batch=8", "eval.batch=16",
                "eval.classifier-holdout=0.2"};
        List<byte[]> same = new ArrayList<>(), shifted = new ArrayList<>();
        for (int i = 0; i < IMAGES; i++) {
            same.add(datasetImage(i, 0));
            shifted.add(datasetImage(i, 100));
        }

        RunRecord first = run(store, 1, same, settings);
        Map<String, StageRun> stages = byName(first);
        StageRun classifier = stages.get(TrainClassifierStep.NAME);
        assertEquals(IMAGES, classifier.getCounts().get("train_images") + classifier.getCounts().get("heldout_images"));
        assertTrue(classifier.getCounts().get("heldout_images") > 0);
        double accuracy = classifier.getMetrics().get(TrainClassifierStep.HELD_OUT_ACCURACY);
        assertTrue(accuracy >= 0 && accuracy <= 1, "accuracy " + accuracy);
        Path classifierDir = store.resolve(TrainClassifierStep.NAME).resolve(classifier.getKey());
        assertEquals(128, DomainClassifier.read(classifierDir.resolve(TrainClassifierStep.CLASSIFIER_FILE)).featureDimension());

        StageRun evaluate = stages.get(EvaluateStep.NAME);
        assertEquals(Set.of("FD-fmnist-classifier"), evaluate.getMetrics().keySet());
        Path out = store.resolve(EvaluateStep.NAME).resolve(evaluate.getKey());
        FeatureStats sampleStats = readOne(out.resolve("sample-stats.avro"), FeatureStats.class);
        Path referenceDir = store.resolve(ReferenceStatsStep.NAME).resolve(stages.get(ReferenceStatsStep.NAME).getKey());
        FeatureStats referenceStats = readOne(referenceDir.resolve("reference-stats.avro"), FeatureStats.class);
        assertEquals(IMAGES, sampleStats.getCount());
        assertEquals(IMAGES, referenceStats.getCount());
        assertEquals(classifier.getKey(), sampleStats.getFeatureNetworkKey().toString());
        double scale = trace(referenceStats);
        double same0 = evaluate.getMetrics().get("FD-fmnist-classifier");
        assertEquals(0.0, same0, 1e-6 * scale, "identical image sets; trace " + scale);

        EvalReport report = readJson(out.resolve(EvaluateStep.REPORT), EvalReport.class);
        assertEquals("FD-fmnist-classifier", report.getMetric().toString());
        assertEquals(same0, report.getDistance());
        assertEquals(IMAGES, report.getNumSamples());
        assertEquals("domain-classifier", report.getFeatureNetwork().toString());
        assertEquals(stages.get("sample").getKey(), report.getModelKey().toString());
        assertEquals(sampleStats, readJson(out.resolve("sample-stats.json"), FeatureStats.class));

        Map<String, Npz.Array> npz = Npz.read(out.resolve(EvaluateStep.STATS_NPZ));
        assertArrayEquals(new long[]{128}, npz.get("mu").shape());
        assertArrayEquals(new long[]{128, 128}, npz.get("sigma").shape());
        assertArrayEquals(ComputeFid.mean(sampleStats), npz.get("mu").asDoubles());
        assertArrayEquals(ComputeFid.covariance(sampleStats), npz.get("sigma").asDoubles());

        // Another set of samples: only the sample and evaluate stages rebuild, and the distance is far from zero.
        RunRecord second = run(store, 2, shifted, settings);
        Map<String, StageRun> again = byName(second);
        assertTrue(again.get(ImportImages.STAGE).getHit());
        assertTrue(again.get(TrainClassifierStep.NAME).getHit());
        assertTrue(again.get(ReferenceStatsStep.NAME).getHit(), "the reference statistics are computed once");
        assertFalse(again.get(EvaluateStep.NAME).getHit());
        double shiftedDistance = again.get(EvaluateStep.NAME).getMetrics().get("FD-fmnist-classifier");
        assertTrue(shiftedDistance > 1e-3 * scale, "shifted " + shiftedDistance + " against trace " + scale);

        // The first run's own statistics as an ADM reference batch: the first samples are at distance zero from it.
        RunRecord third = run(store, 1, same, append(settings, "eval.reference-stats=" + out.resolve(EvaluateStep.STATS_NPZ)));
        StageRun fromNpz = byName(third).get(EvaluateStep.NAME);
        assertEquals(0.0, fromNpz.getMetrics().get("FD-fmnist-classifier"), 1e-6 * scale);
        Path thirdReference = store.resolve(ReferenceStatsStep.NAME).resolve(byName(third).get(ReferenceStatsStep.NAME).getKey());
        assertEquals(0L, readOne(thirdReference.resolve("reference-stats.avro"), FeatureStats.class).getCount(), "an npz holds no image count");
    }

    @Test
    void theEvaluateTestSetPipelineFindsTheSameSplitAtZeroAndItsNoisyCopyFarther() throws Exception {
        Path data = TestDatasets.fashionMnist(tmp.resolve("fm"), 40, 0);
        // The test split is a copy of the training split, so its undamaged distance must vanish.
        Files.copy(data.resolve("train-images-idx3-ubyte.gz"), data.resolve("t10k-images-idx3-ubyte.gz"));
        Files.copy(data.resolve("train-labels-idx1-ubyte.gz"), data.resolve("t10k-labels-idx1-ubyte.gz"));
        Path store = tmp.resolve("store");
        double none = distance(store, data, "none");
        double noise = distance(store, data, "noise");
        double blur = distance(store, data, "blur");
        assertEquals(0.0, none, 1e-6);
        assertTrue(noise > 1 && blur > 1, "noise " + noise + ", blur " + blur);
    }

    private double distance(Path store, Path data, String degradation) throws Exception {
        Settings s = Settings.resolve(null, List.of("data.path=" + data, "eval.features=pixels", "eval.test-set-degradation=" + degradation));
        RunRecord run = new Orchestrator(new ArtifactStore(store.toString()), s, PipelineOptionsFactory.create(), new PrintStream(log, true))
                .run("evaluate-test-set", Set.of(), Set.of());
        StageRun evaluate = byName(run).get(EvaluateStep.NAME);
        assertEquals(Set.of("FD-pixels"), evaluate.getMetrics().keySet());
        return evaluate.getMetrics().get("FD-pixels");
    }

    private static Map<String, StageRun> byName(RunRecord run) {
        Map<String, StageRun> m = new java.util.LinkedHashMap<>();
        for (StageRun s : run.getStages()) m.put(s.getStage().toString(), s);
        return m;
    }

    private static double trace(FeatureStats s) {
        double[] c = ComputeFid.covariance(s);
        int d = (int) Math.round(Math.sqrt(c.length));
        double t = 0;
        for (int i = 0; i < d; i++) t += c[i * d + i];
        return t;
    }

    private static String[] append(String[] a, String b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + 1);
        out[a.length] = b;
        return out;
    }

    private static <T> T readOne(Path file, Class<T> type) throws IOException {
        try (DataFileReader<T> r = new DataFileReader<>(new File(file.toString()), new SpecificDatumReader<>(type))) {
            return r.next();
        }
    }

    private static <T extends org.apache.avro.specific.SpecificRecord> T readJson(Path file, Class<T> type) throws IOException {
        Schema schema = org.apache.avro.specific.SpecificData.get().getSchema(type);
        return new SpecificDatumReader<>(type).read(null, DecoderFactory.get().jsonDecoder(schema, Files.readString(file)));
    }
}
