package org.transcend.pipelines.steps;

import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.transforms.MapElements;
import org.apache.beam.sdk.values.TypeDescriptor;
import org.transcend.model.eval.DomainClassifier;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.FeatureStats;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.Tensor;
import org.transcend.stages.evaluation.ComputeFid;
import org.transcend.stages.evaluation.ExtractFeatures;
import org.transcend.stages.evaluation.FeatureNetworkSpec;
import org.transcend.stages.importing.ImportImages;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.io.Npz;
import org.transcend.stages.io.Tensors;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * The statistics every distance is measured against: the feature mean and covariance of the imported images, or an
 * ADM reference batch's {@code mu} and {@code sigma} when {@code eval.reference-stats} names one. Computed once and
 * reused by the evaluation of every model on the same data and feature network.
 *
 * <p>Files: {@code reference-stats.avro} and {@code .json} (FeatureStats).
 */
public final class ReferenceStatsStep implements PipelineStage {

    public static final String NAME = "reference-stats";
    public static final String FILE = "reference-stats";

    private final boolean classifier;

    public ReferenceStatsStep(Settings settings) {
        this.classifier = settings.get(EVAL_FEATURES.key()).equals("classifier");
    }

    @Override
    public StageIdentity identity() {
        return new StageIdentity(NAME, 1, FeatureStats.getClassSchema());
    }

    /** The settings that choose the feature network and the reference: shared with the evaluate stage. */
    static List<String> featureKeys(Settings s) {
        List<String> keys = new ArrayList<>(List.of(EVAL_FEATURES.key(), EVAL_REFERENCE_STATS.key()));
        if (s.get(EVAL_FEATURES.key()).equals("inception")) keys.add(EVAL_INCEPTION_WEIGHTS.key());
        return keys;
    }

    @Override
    public List<String> settingKeys(Settings s) {
        return featureKeys(s);
    }

    @Override
    public List<String> upstream() {
        List<String> up = new ArrayList<>(List.of(ImportImages.STAGE));
        if (classifier) up.add(TrainClassifierStep.NAME);
        return up;
    }

    @Override
    public StageOutcome build(StageContext ctx) throws IOException {
        Settings s = ctx.settings();
        String imagesDir = ctx.upstreamDir(ImportImages.STAGE), out = ctx.outputDir();
        FeatureNetworkSpec spec = network(ctx, () -> Tensors.shape(Handoffs.first(imagesDir, ImportStep.IMAGES, ImageRecord.class).getPixels()));
        String referenceNpz = s.get(EVAL_REFERENCE_STATS.key());
        Map<String, Long> counts = new TreeMap<>();
        FeatureStats reference;
        if (referenceNpz.isEmpty()) {
            Pipeline p = Pipeline.create(ctx.options());
            EvaluateStep.statistics(Handoffs.read(p.begin(), ImageRecord.class, imagesDir, ImportStep.IMAGES)
                    .apply("Reference pixels", MapElements.into(TypeDescriptor.of(Tensor.class)).via(ImageRecord::getPixels)),
                    spec, s.getInt(EVAL_BATCH.key()), out, FILE);
            counts.putAll(BeamRuns.runAndCount(p, ExtractFeatures.NAMESPACE));
            reference = EvaluateStep.readStats(out + FILE + ".avro", "imported images");
        } else {
            reference = ComputeFid.fromNpz(Npz.read(referenceNpz, "mu", "sigma"), spec, referenceNpz);
            EvaluateStep.writeAvro(reference, out + FILE + ".avro");
        }
        EvaluateStep.writeJson(reference, out + FILE + ".json");
        System.out.printf("[%s] statistics of %d reference images through %s%n", NAME, reference.getCount(), spec.networkName());
        counts.put("reference_images", reference.getCount());
        return new StageOutcome(counts, Map.of());
    }

    /** The feature network the settings choose; pixel features take their [C, H, W] from {@code imageShape}. */
    static FeatureNetworkSpec network(StageContext ctx, Supplier<long[]> imageShape) throws IOException {
        Settings s = ctx.settings();
        return switch (s.get(EVAL_FEATURES.key())) {
            case "inception" -> {
                String weights = s.get(EVAL_INCEPTION_WEIGHTS.key());
                if (weights.isEmpty()) {
                    throw new IllegalArgumentException("eval.features=inception needs eval.inception-weights, a safetensors file of "
                            + "pytorch-fid's Inception weights; without one, use eval.features=classifier");
                }
                yield FeatureNetworkSpec.inception(weights);
            }
            case "classifier" -> {
                if (!ctx.upstreamKeys().containsKey(TrainClassifierStep.NAME)) {
                    throw new IllegalStateException("eval.features=classifier but this pipeline has no " + TrainClassifierStep.NAME + " stage");
                }
                String weights = ctx.upstreamDir(TrainClassifierStep.NAME) + TrainClassifierStep.CLASSIFIER_FILE;
                String key = ctx.upstreamKeys().get(TrainClassifierStep.NAME);
                // A dry run has no classifier file to read the feature dimension from: it is the one train-classifier trains.
                yield ctx.dryRun()
                        ? new FeatureNetworkSpec(FeatureNetworkSpec.Kind.CLASSIFIER, weights, key, 0, 0, DomainClassifier.Config.SMALL_FEATURES)
                        : FeatureNetworkSpec.classifier(weights, key);
            }
            default -> {
                long[] shape = imageShape.get();
                yield FeatureNetworkSpec.pixels((int) shape[0], (int) shape[1]);
            }
        };
    }
}
