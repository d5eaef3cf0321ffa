package org.transcend.runners.dataflow;

import org.apache.beam.runners.dataflow.options.DataflowPipelineOptions;
import org.apache.beam.sdk.extensions.gcp.auth.NoopCredentialFactory;
import org.apache.beam.sdk.extensions.gcp.storage.NoopPathValidator;
import org.apache.beam.sdk.options.PipelineOptions;
import org.transcend.pipelines.Orchestrator;
import org.transcend.pipelines.PipelineDefinition;
import org.transcend.pipelines.StageContext;
import org.transcend.pipelines.TranscendOptions;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code transcend run PIPELINE --runner dataflow --dry-run}: translates every stage's Beam pipeline into a Dataflow
 * job template on local disk, runs nothing, and summarises each job graph. It works offline and without credentials:
 * templates, staged jars and temp files stay on local disk, no credential is looked up, no path is checked against
 * GCS, and the store is not read (every stage is planned as a miss).
 */
public final class DataflowDryRun {
    private DataflowDryRun() {}

    /** Placeholders for a dry run without {@code --project} and {@code --region}: Dataflow checks that both are set. */
    static final String DRY_RUN_PROJECT = "transcend-dry-run";
    static final String DRY_RUN_REGION = "us-central1";

    /** What became of one stage: its job graph, or why it has none. */
    public record StageJob(String stage, String key, Path template, JobGraph graph, String note) {}

    /**
     * Translates every stage of {@code def}; templates and the local staging area go under {@code dir}. The options
     * are the user's Dataflow options; the offline settings are made on them.
     */
    public static List<StageJob> translate(PipelineDefinition def, Settings settings, ArtifactStore store, PipelineOptions options,
                                           Path dir, PrintStream log) throws IOException {
        DataflowPipelineOptions d = offline(options, dir);
        Orchestrator orchestrator = new Orchestrator(store, settings, d, log);
        Map<String, String> keys = new LinkedHashMap<>();
        List<StageJob> jobs = new ArrayList<>();
        for (Orchestrator.Resolved r : orchestrator.resolve(def, false)) {
            String stage = r.stage().name();
            keys.put(stage, r.key());
            Map<String, String> upDirs = new LinkedHashMap<>(), upKeys = new LinkedHashMap<>();
            for (String up : r.stage().upstream()) {
                upKeys.put(up, keys.get(up));
                upDirs.put(up, store.dir(up, keys.get(up)));
            }
            Path template = dir.resolve(stage + ".json").toAbsolutePath();
            d.setTemplateLocation(template.toString());
            StageContext ctx = new StageContext(settings, store, r.key(), store.dir(stage, r.key()), upDirs, upKeys, d);
            log.printf("%-24s translating...%n", stage);
            try {
                r.stage().build(ctx);
                jobs.add(new StageJob(stage, r.key(), null, null, "no Dataflow job: runs in the launcher"));
            } catch (TranslateOnlyRunner.Translated t) {
                jobs.add(new StageJob(stage, r.key(), template, JobGraph.read(template), ""));
            } catch (Exception e) {
                jobs.add(new StageJob(stage, r.key(), null, null, "not translated: " + e.getMessage()));
            }
        }
        return jobs;
    }

    /**
     * The user's options made to translate offline: Dataflow's template mode through {@link TranslateOnlyRunner}, a
     * local temp and staging area (Beam otherwise looks for a default bucket, retrying the network for minutes), no
     * GCS path validation, no credentials, and placeholders for a missing project and region.
     */
    static DataflowPipelineOptions offline(PipelineOptions options, Path dir) throws IOException {
        DataflowPipelineOptions d = options.as(DataflowPipelineOptions.class);
        Path temp = Files.createDirectories(dir.resolve("temp")).toAbsolutePath();
        Path staging = Files.createDirectories(dir.resolve("staging")).toAbsolutePath();
        d.setRunner(TranslateOnlyRunner.class);
        d.setTempLocation(temp.toString());
        d.setGcpTempLocation(temp.toString());
        d.setStagingLocation(staging.toString());
        d.setPathValidatorClass(NoopPathValidator.class);
        d.setCredentialFactoryClass(NoopCredentialFactory.class);
        if (d.getProject() == null || d.getProject().isBlank()) d.setProject(DRY_RUN_PROJECT);
        if (d.getRegion() == null || d.getRegion().isBlank()) d.setRegion(DRY_RUN_REGION);
        d.as(TranscendOptions.class).setDryRun(true);
        return d;
    }

    /** The summary a user reads: per stage its job's top-level transforms, their step counts and accelerators. */
    public static void print(PrintStream out, String pipeline, List<StageJob> jobs, Path dir) {
        out.printf("%nDataflow dry run of %s: job templates in %s (translated offline; nothing was submitted)%n", pipeline, dir);
        for (StageJob j : jobs) {
            if (j.graph() == null) {
                out.printf("%-24s %s%n", j.stage(), j.note());
                continue;
            }
            List<String> gpus = j.graph().accelerators();
            out.printf("%-24s %s, %d steps, %s workers%n", j.stage(), j.template().getFileName(), j.graph().steps().size(),
                    gpus.isEmpty() ? "CPU" : "GPU");
            for (JobGraph.Transform t : j.graph().transforms()) {
                out.printf("    %-40s %3d steps%s%n", t.name(), t.steps().size(), t.accelerator().isEmpty() ? "" : "  accelerator " + t.accelerator());
            }
        }
    }
}
