package org.transcend.runners.dataflow;

import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.options.PipelineOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.pipelines.Pipelines;
import org.transcend.pipelines.TestDatasets;
import org.transcend.pipelines.TinyPipeline;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.runners.Runner;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Dataflow dry run of the tiny Self-Transcendence pipeline, offline and without credentials: the store is a gs://
 * bucket that does not exist and that this machine could not reach, so any attempt to read it would fail the stage.
 */
class DataflowDryRunTest {

    @TempDir
    Path tmp;

    @Test
    void translatesEveryStageOfflineWithGpuHintsOnTrainingAndSampling() throws Exception {
        Path fm = TestDatasets.fashionMnist(tmp.resolve("fm"), TinyPipeline.IMAGES, 0);
        Settings settings = Settings.resolve(null, TinyPipeline.settings(fm));
        PipelineOptions options = Runner.DATAFLOW.options(List.of(), null);
        FileSystems.setDefaultPipelineOptions(options);
        Path dir = tmp.resolve("dry-run");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(bytes, true, StandardCharsets.UTF_8);

        List<DataflowDryRun.StageJob> jobs = DataflowDryRun.translate(Pipelines.named("self-transcendence", settings), settings,
                new ArtifactStore("gs://transcend-dry-run-test/store"), options, dir, log);
        DataflowDryRun.print(log, "self-transcendence", jobs, dir);
        String summary = bytes.toString(StandardCharsets.UTF_8);

        Map<String, DataflowDryRun.StageJob> byStage = jobs.stream().collect(Collectors.toMap(DataflowDryRun.StageJob::stage, Function.identity()));
        assertEquals(List.of("import-images", "train-vae", "encode-latents", "warmup-align", "teacher-targets", "train-student",
                "sample", "train-classifier", "reference-stats", "evaluate"), jobs.stream().map(DataflowDryRun.StageJob::stage).toList());
        assertNull(byStage.get("train-classifier").graph(), "the classifier trains in the launcher");
        Set<String> gpuStages = Set.of("train-vae", "warmup-align", "teacher-targets", "train-student", "sample");
        for (DataflowDryRun.StageJob j : jobs) {
            if (j.stage().equals("train-classifier")) continue;
            assertNotNull(j.graph(), j.stage() + ": " + j.note() + "\n" + summary);
            assertTrue(Files.size(j.template()) > 0, j.stage() + " template written");
            assertFalse(j.graph().steps().isEmpty(), j.stage() + " has steps");
            assertEquals(gpuStages.contains(j.stage()) ? List.of(Accelerators.DEFAULT) : List.of(), j.graph().accelerators(), j.stage());
        }
        Map<String, JobGraph.Transform> warmup = byStage.get("warmup-align").graph().transforms().stream()
                .collect(Collectors.toMap(JobGraph.Transform::name, Function.identity()));
        assertEquals(Accelerators.DEFAULT, warmup.get("Train warmup-align").accelerator(), "the trainer runs on the GPU");
        assertEquals("", warmup.get("Write checkpoint-meta").accelerator(), "writing its metadata does not");
        assertTrue(Files.readString(byStage.get("train-student").template()).contains("use_runner_v2"), "GPUs need Runner v2");
        assertTrue(Files.isRegularFile(byStage.get("train-student").graph().pipelineProto()), "the pipeline proto is staged locally");
        try (var staged = Files.list(dir.resolve("staging"))) {
            assertTrue(staged.anyMatch(f -> f.getFileName().toString().startsWith("transcend-pipelines")), "jars staged locally");
        }
        assertTrue(summary.contains("Train train-student") && summary.contains("accelerator " + Accelerators.DEFAULT), summary);
    }
}
