package org.transcend.pipelines.steps;

import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Catalog;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.DeadLetter;
import org.transcend.schemas.ImageRecord;
import org.transcend.stages.importing.ImportImages;
import org.transcend.stages.importing.ImportSpec;
import org.transcend.stages.io.Handoffs;

import java.util.List;
import java.util.Map;

/** Imports the configured dataset into ImageRecords, with its dead letters beside them. */
public final class ImportStep implements PipelineStage {

    public static final String IMAGES = "images";
    public static final String DEAD_LETTERS = "dead-letters";

    @Override
    public StageIdentity identity() {
        return new StageIdentity(ImportImages.STAGE, 1, ImageRecord.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        List<String> keys = new java.util.ArrayList<>(List.of(Catalog.DATA_SOURCE.key(), Catalog.DATA_PATH.key(),
                Catalog.DATA_SPLIT.key(), Catalog.DATA_LIMIT.key()));
        // Resolution and channels shape only image folders; idx and CIFAR files have their own.
        if (s.get(Catalog.DATA_SOURCE.key()).equals("image-folder")) {
            keys.addAll(List.of(Catalog.DATA_RESOLUTION.key(), Catalog.DATA_CHANNELS.key()));
        }
        return keys;
    }

    @Override
    public List<String> upstream() {
        return List.of();
    }

    static ImportSpec spec(Settings s) {
        ImportSpec.Source source = switch (s.get(Catalog.DATA_SOURCE.key())) {
            case "fashion-mnist" -> ImportSpec.Source.FASHION_MNIST;
            case "cifar10" -> ImportSpec.Source.CIFAR10;
            default -> ImportSpec.Source.IMAGE_FOLDER;
        };
        return new ImportSpec(source, s.get(Catalog.DATA_PATH.key()), s.get(Catalog.DATA_SPLIT.key()),
                s.getLong(Catalog.DATA_LIMIT.key()), s.getInt(Catalog.DATA_SHARDS.key()),
                s.getInt(Catalog.DATA_RESOLUTION.key()), s.getInt(Catalog.DATA_CHANNELS.key()));
    }

    @Override
    public StageOutcome build(StageContext ctx) {
        ImportSpec spec = spec(ctx.settings());
        Pipeline p = Pipeline.create(ctx.options());
        PCollectionTuple imported = p.apply(new ImportImages(spec));
        Handoffs.write(imported.get(ImportImages.IMAGES), ImageRecord.class, ctx.outputDir(), IMAGES, spec.shards());
        Handoffs.write(imported.get(ImportImages.DEAD_LETTERS), DeadLetter.class, ctx.outputDir(), DEAD_LETTERS, 1);
        Map<String, Long> counts = BeamRuns.runAndCount(p, ImportImages.STAGE);
        counts.putIfAbsent("images", 0L);
        counts.putIfAbsent("dead_letters", 0L);
        return new StageOutcome(counts, Map.of());
    }
}
