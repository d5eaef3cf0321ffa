package org.transcend.pipelines.steps;

import org.apache.beam.sdk.Pipeline;
import org.transcend.pipelines.BeamRuns;
import org.transcend.pipelines.PipelineStage;
import org.transcend.pipelines.StageIdentity;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.StageOutcome;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.PatchFeatures;
import org.transcend.stages.importing.ImportImages;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.representation.ImportPatchFeatures;
import org.transcend.stages.representation.PatchFeatureFile;
import org.transcend.stages.representation.PatchFeatureTargets;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * REPA's targets, cached per image: the user's feature file checked and split into one {@link PatchFeatures} record per
 * imported image. They depend on the clean image only, so the key holds the file and the import, not the VAE or the plan.
 */
public final class RepaTargetsStep implements PipelineStage {

    public static final String NAME = "repa-targets";

    @Override
    public StageIdentity identity() {
        return new StageIdentity(NAME, 1, PatchFeatures.getClassSchema());
    }

    @Override
    public List<String> settingKeys(Settings s) {
        return List.of(REPA_FEATURES.key());
    }

    @Override
    public List<String> upstream() {
        return List.of(ImportImages.STAGE);
    }

    @Override
    public StageOutcome build(StageContext ctx) throws Exception {
        String file = ctx.settings().get(REPA_FEATURES.key());
        if (file.isBlank()) {
            throw new IllegalArgumentException("the repa pipeline needs repa.features, an .npz with 'ids' [N] and 'features' [N, T, Dz] "
                    + "(see README, Recipes)");
        }
        PatchFeatureFile header = PatchFeatureFile.header(file);
        Pipeline p = Pipeline.create(ctx.options());
        Handoffs.write(Handoffs.read(p.begin(), ImageRecord.class, ctx.upstreamDir(ImportImages.STAGE), ImportStep.IMAGES)
                .apply("ImportPatchFeatures", new ImportPatchFeatures(file)), PatchFeatures.class, ctx.outputDir(), PatchFeatureTargets.RECORDS, 8);
        Map<String, Long> counts = new TreeMap<>(BeamRuns.runAndCount(p, ImportPatchFeatures.NAMESPACE));
        counts.put("unused_rows", header.size() - counts.getOrDefault("features", 0L));
        return new StageOutcome(counts, Map.of("tokens", (double) header.tokens(), "dim", (double) header.dim()));
    }
}
