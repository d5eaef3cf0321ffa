package org.transcend.tests;

import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.model.PausePoint;
import org.transcend.model.io.Safetensors;
import org.transcend.pipelines.Orchestrator;
import org.transcend.pipelines.TestDatasets;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.ArtifactManifest;
import org.transcend.schemas.ArtifactFile;
import org.transcend.stages.training.TrainSiT;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * SIGKILL a training stage at three points (inside a step, inside a checkpoint write, inside the manifest
 * commit), rerun the same command each time, and end with the weights of an uninterrupted run, bit for bit. The
 * stage runs in a child JVM that a test-only {@link PausePoint} holds at the named point until it is killed.
 */
@Tag("kill")
class KillAnywhereResumeTest {

    static final String PIPELINE = "vae-align";
    static final String STAGE = "warmup-align";
    static final Duration LIMIT = Duration.ofMinutes(3);

    @TempDir
    static Path tmp;

    static List<String> settings;
    static Path upstream;

    @BeforeAll
    static void upstreamArtifacts() throws Exception {
        Path fm = TestDatasets.fashionMnist(tmp.resolve("fm"), 48, 0);
        settings = List.of("data.path=" + fm, "vae.steps=1", "vae.batch=16", "vae.held-out=4", "vae.checkpoint-every=1",
                "encode.groups=2", "sit.hidden=32", "sit.depth=2", "sit.heads=2", "train.batch=8", "train.log-every=1",
                "train.checkpoint-every=2", "warmup.steps=8", "warmup.block=1", "warmup.head-hidden=16", "teacher.block=2", "student.block=1");
        upstream = tmp.resolve("upstream");
        new Orchestrator(new ArtifactStore(upstream.toString()), Settings.resolve(null, settings), PipelineOptionsFactory.create(),
                new PrintStream(new ByteArrayOutputStream(), true)).run("latents", Set.of(), Set.of());
    }

    private static ChildJvm stage(Path store, String pauseAt) throws IOException {
        List<String> jvm = new ArrayList<>(ChildJvm.SMALL);
        if (pauseAt != null) jvm.add("-D" + PausePoint.PROPERTY + "=" + pauseAt);
        List<String> args = new ArrayList<>(List.of(store.toString(), PIPELINE, STAGE));
        args.addAll(settings);
        return ChildJvm.start(StageProcess.class, jvm, args);
    }

    /** Runs to the pause point, checks that the process is really there, and kills it. */
    private static String killAt(Path store, String point) throws Exception {
        try (ChildJvm child = stage(store, point)) {
            child.awaitLine(PausePoint.MARKER + point, LIMIT);
            assertTrue(ProcessHandle.of(child.pid()).map(ProcessHandle::isAlive).orElse(false));
            child.kill();
            return child.output();
        }
    }

    private static String runToEnd(Path store) throws Exception {
        try (ChildJvm child = stage(store, null)) {
            child.awaitLine(StageProcess.DONE, LIMIT);
            assertEquals(0, child.awaitExit(LIMIT), child.output());
            return child.output();
        }
    }

    @Test
    void aStageKilledInAStepInACheckpointWriteAndInItsCommitResumesToTheUninterruptedWeights() throws Exception {
        Path reference = copy(upstream, tmp.resolve("reference"));
        runToEnd(reference);
        Path referenceDir = artifactDir(reference);

        Path store = copy(upstream, tmp.resolve("killed"));
        Path dir = artifactDir(store);

        // 1. Inside step 5: the weights are updated, the EMA is not; checkpoints 2 and 4 are complete.
        String out = killAt(store, "train-step#5");
        assertTrue(out.contains("step 4/8"), out);
        assertEquals(List.of("step-000000002.safetensors", "step-000000004.safetensors"), checkpoints(dir));
        assertFalse(Files.exists(dir.resolve(ArtifactStore.MANIFEST)));

        // 2. Inside the write of checkpoint 6: half of it is on disk under a partial name, never as step 6.
        out = killAt(store, "weights-write#1");
        assertTrue(out.contains("resuming from step 4"), out);
        assertEquals(List.of("step-000000002.safetensors", "step-000000004.safetensors"), checkpoints(dir));
        assertTrue(partials(dir.resolve("checkpoints")) >= 1, "the killed write leaves its partial file");

        // 3. Inside the manifest commit: every data file is written, the manifest is not in place.
        out = killAt(store, "manifest-commit#1");
        assertTrue(out.contains("resuming from step 4"), out);
        assertTrue(Files.exists(dir.resolve(TrainSiT.MODEL_FILE)));
        assertFalse(Files.exists(dir.resolve(ArtifactStore.MANIFEST)));
        assertTrue(new ArtifactStore(store.toString()).committed(STAGE).isEmpty(), "an artifact without manifest is never read");

        // 4. The same command once more: it resumes from the final checkpoint and commits.
        out = runToEnd(store);
        assertTrue(out.contains("resuming from step 8"), out);
        assertArrayEquals(Files.readAllBytes(referenceDir.resolve(TrainSiT.MODEL_FILE)), Files.readAllBytes(dir.resolve(TrainSiT.MODEL_FILE)),
                "the resumed run's weights, EMA and optimiser state differ from the uninterrupted run's: " + firstDifference(referenceDir, dir));
        ArtifactManifest m = new ArtifactStore(store.toString()).committed(STAGE).get(0);
        for (ArtifactFile f : m.getFiles()) assertFalse(f.getPath().contains(".partial"), "a partial file entered the manifest: " + f.getPath());
        assertEquals(lossColumns(referenceDir), lossColumns(dir), "metrics.jsonl holds every step once, with the uninterrupted losses");
    }

    private static Path artifactDir(Path store) {
        Orchestrator o = new Orchestrator(new ArtifactStore(store.toString()), Settings.resolve(null, settings),
                PipelineOptionsFactory.create(), System.out);
        String key = o.resolve(o.definition(PIPELINE)).stream().filter(r -> r.stage().name().equals(STAGE))
                .findFirst().orElseThrow().key();
        return store.resolve(STAGE).resolve(key);
    }

    private static List<String> checkpoints(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir.resolve("checkpoints"))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("step-")).sorted().toList();
        }
    }

    private static long partials(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().contains(".partial")).count();
        }
    }

    /** Every metrics line without its timing field. */
    private static List<String> lossColumns(Path dir) throws IOException {
        return Files.readAllLines(dir.resolve(TrainSiT.METRICS_FILE)).stream()
                .map(l -> l.replaceAll(",\"images_per_s\":[^,}]*", "")).toList();
    }

    private static String firstDifference(Path a, Path b) {
        try {
            var ta = Safetensors.read(a.resolve(TrainSiT.MODEL_FILE)).tensors();
            var tb = Safetensors.read(b.resolve(TrainSiT.MODEL_FILE)).tensors();
            for (String k : ta.keySet()) if (!ta.get(k).equals(tb.get(k))) return "tensor " + k;
            return "metadata or tensor order";
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    private static Path copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
        return to;
    }
}
