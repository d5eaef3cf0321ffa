package org.transcend.pipelines;

import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.transforms.resourcehints.ResourceHints;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;

import java.util.Map;

/**
 * What a stage gets to build its artifact: the settings, the store, its own key and output directory, the
 * committed directories of its upstream stages, and the Beam options of the run.
 */
public record StageContext(Settings settings, ArtifactStore store, String key, String outputDir,
                           Map<String, String> upstreamDirs, Map<String, String> upstreamKeys, PipelineOptions options) {

    public String upstreamDir(String stage) {
        String d = upstreamDirs.get(stage);
        if (d == null) throw new IllegalStateException("stage has no upstream '" + stage + "'; it has " + upstreamDirs.keySet());
        return d;
    }

    /** The resource hints of a transform that runs a network: the accelerator of {@link TranscendOptions}, when one is set. */
    public ResourceHints networkHints() {
        String accelerator = options.as(TranscendOptions.class).getAccelerator();
        return accelerator.isBlank() ? ResourceHints.create() : ResourceHints.create().withAccelerator(accelerator);
    }

    /** True when the stage's pipeline is built to be translated, not run (see {@link TranscendOptions#isDryRun()}). */
    public boolean dryRun() {
        return options.as(TranscendOptions.class).isDryRun();
    }
}
