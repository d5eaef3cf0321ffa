package org.transcend.pipelines;

import org.apache.avro.Schema;

import java.util.List;

/**
 * One method step as the orchestrator sees it: what decides its output (for the cache key), which upstream
 * artifacts it reads, and how to build it into its artifact directory.
 */
public interface PipelineStage {

    /** Its name, version and output schema: what, with its settings and upstream keys, makes its cache key. */
    StageIdentity identity();

    /** The stage name, also its directory in the store. */
    default String name() {
        return identity().name();
    }

    /** Bumped whenever the stage's code changes its output, so old artifacts stop matching. */
    default int version() {
        return identity().version();
    }

    /** The Avro schema of the main records it writes; its fingerprint enters the key. */
    default Schema outputSchema() {
        return identity().outputSchema();
    }

    /** The settings that change its output under these settings. Nothing else of the settings enters its key. */
    List<String> settingKeys(org.transcend.pipelines.config.Settings settings);

    /** The stages whose artifacts it reads, in the pipeline it belongs to. */
    List<String> upstream();

    /** Writes the artifact's files into {@code ctx.outputDir()}; the orchestrator commits them. */
    StageOutcome build(StageContext ctx) throws Exception;
}
