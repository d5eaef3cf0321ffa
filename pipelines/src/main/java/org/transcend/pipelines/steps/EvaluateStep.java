package org.transcend.pipelines.steps;

import org.apache.avro.file.DataFileReader;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.io.Encoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.extensions.avro.io.AvroIO;
import org.apache.beam.sdk.transforms.MapElements;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.TypeDescriptor;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.EvalReport;
import org.transcend.schemas.FeatureStats;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.SampleRecord;
import org.transcend.schemas.Tensor;
import org.transcend.stages.evaluation.ComputeFid;
import org.transcend.stages.evaluation.ExtractFeatures;
import org.transcend.stages.evaluation.FeatureNetworkSpec;
import org.transcend.stages.importing.ImportImages;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Npz;
import org.transcend.stages.io.Tensors;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * The evaluate stage: feature statistics of the samples, and their Fréchet distance, under its metric's name, to
 * the reference statistics of the {@link ReferenceStatsStep} (computed once for every model evaluated on the data).
 *
 * <p>Files: {@code sample-stats.avro}/{@code .json} (FeatureStats), {@code stats.npz} (the samples' mu and sigma in ADM's reference-batch layout), {@code eval-report.json} (EvalReport,
 * Avro JSON). The manifest's metrics hold the distance, e.g. {@code FD-fmnist-classifier}.
 */
public final class EvaluateStep implements PipelineStage {

    public static final String NAME = "evaluate";
    /** The record files of a samples artifact: {@code samples-*.avro} SampleRecords. */
    public static final String SAMPLES = "samples";
    public static final String SAMPLE_STATS = "sample-stats";
    public static final String STATS_NPZ = "stats.npz";
    public static final String REPORT = "eval-report.json";

    private final String samplesStage;
    private final boolean classifier;

    /** Evaluates the samples of {@code samplesStage}; the domain classifier is upstream when the settings choose it. */
    public EvaluateStep(String samplesStage, Settings settings) {
        this.samplesStage = samplesStage;
        this.classifier = settings.get(EVAL_FEATURES.key()).equals("classifier");
    }

    @Override
    public StageIdentity identity() {
        return new StageIdentity(NAME, 2, EvalReport.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        return ReferenceStatsStep.featureKeys(s);
    }

    @Override
    public List<String> upstream() {
        List<String> up = new ArrayList<>(List.of(samplesStage, ReferenceStatsStep.NAME));
        if (classifier) up.add(TrainClassifierStep.NAME);
        return up;
    }

    @Override
    public StageOutcome build(StageContext ctx) throws IOException {
        Settings s = ctx.settings();
        String samplesDir = ctx.upstreamDir(samplesStage), out = ctx.outputDir();
        FeatureNetworkSpec spec = ReferenceStatsStep.network(ctx, () -> Tensors.shape(Handoffs.first(samplesDir, SAMPLES, SampleRecord.class).getPixels()));
        int batch = s.getInt(EVAL_BATCH.key());

        Pipeline p = Pipeline.create(ctx.options());
        statistics(Handoffs.read(p.begin(), SampleRecord.class, samplesDir, SAMPLES)
                .apply("Sample pixels", MapElements.into(TypeDescriptor.of(Tensor.class)).via(SampleRecord::getPixels)), spec, batch, out, SAMPLE_STATS);
        long started = System.nanoTime();
        Map<String, Long> counts = new TreeMap<>(BeamRuns.runAndCount(p, ExtractFeatures.NAMESPACE));
        double seconds = (System.nanoTime() - started) / 1e9;
        long featurised = counts.getOrDefault("featurised_images", 0L);
        System.out.printf(Locale.ROOT, "[%s] %d images through %s in %.1f s (%.0f images/s)%n", NAME, featurised,
                spec.networkName(), seconds, featurised / seconds);

        FeatureStats samples = readStats(out + SAMPLE_STATS + ".avro", "samples in " + Handoffs.pattern(samplesDir, SAMPLES));
        FeatureStats reference = readStats(ctx.upstreamDir(ReferenceStatsStep.NAME) + ReferenceStatsStep.FILE + ".avro", "reference");
        writeJson(samples, out + SAMPLE_STATS + ".json");
        Npz.write(out + STATS_NPZ, ComputeFid.toNpz(samples));

        double distance = ComputeFid.distance(samples, reference);
        String metric = spec.metric(ImportStep.spec(s).datasetName());
        Map<String, String> sampler = new TreeMap<>();
        sampler.put("stage", samplesStage);
        s.values().forEach((k, v) -> {
            if (k.startsWith("sample.")) sampler.put(k, v);
        });
        EvalReport report = new EvalReport(metric, distance, samples.getCount(), spec.networkName(), spec.key(),
                ctx.upstreamKeys().get(samplesStage), new TreeMap<>(sampler));
        writeJson(report, out + REPORT);
        System.out.printf(Locale.ROOT, "[%s] %s = %.6g (%d samples against the statistics of %d reference images)%n", NAME,
                metric, distance, samples.getCount(), reference.getCount());
        counts.put("samples", samples.getCount());
        counts.putIfAbsent("dead_letters", 0L);
        return new StageOutcome(counts, Map.of(metric, distance));
    }

    static void statistics(PCollection<Tensor> pixels, FeatureNetworkSpec spec, int batch, String dir, String name) {
        pixels.apply("Statistics of " + name, new ComputeFid(spec, batch))
                .apply("Write " + name, AvroIO.write(FeatureStats.class).to(dir + name).withSuffix(".avro").withoutSharding());
    }

    static FeatureStats readStats(String file, String what) throws IOException {
        if (LocalCopies.list(file).isEmpty()) {
            throw new IllegalStateException("no statistics of the " + what + " were written to " + file + ": there were no images");
        }
        try (DataFileReader<FeatureStats> r = new DataFileReader<>(LocalCopies.fetch(file).toFile(), new SpecificDatumReader<>(FeatureStats.class))) {
            return r.next();
        }
    }

    static void writeAvro(FeatureStats stats, String path) throws IOException {
        Path local = LocalCopies.staging(path);
        try (DataFileWriter<FeatureStats> w = new DataFileWriter<>(new SpecificDatumWriter<>(FeatureStats.class))) {
            w.create(FeatureStats.getClassSchema(), local.toFile());
            w.append(stats);
        }
        LocalCopies.publish(local, path);
    }

    /** Avro's JSON encoding of one record, pretty-printed. */
    static <T extends SpecificRecord> void writeJson(T record, String path) throws IOException {
        Path local = LocalCopies.staging(path);
        try (OutputStream o = Files.newOutputStream(local)) {
            Encoder e = EncoderFactory.get().jsonEncoder(record.getSchema(), o, true);
            @SuppressWarnings("unchecked")
            SpecificDatumWriter<T> writer = new SpecificDatumWriter<>((Class<T>) record.getClass());
            writer.write(record, e);
            e.flush();
        }
        LocalCopies.publish(local, path);
    }
}
