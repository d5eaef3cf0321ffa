package org.transcend.pipelines;

import org.apache.beam.sdk.options.PipelineOptions;
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
}
