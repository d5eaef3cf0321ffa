package org.transcend.tests;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.model.PausePoint;
import org.transcend.pipelines.TestDatasets;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.ArtifactManifest;
import org.transcend.schemas.RunRecord;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Two processes run the same pipeline on one store at once. The first is held inside its manifest commit (its data
 * written, the manifest not yet in place) while the second starts: the second must wait, never read the partial
 * artifact, and reuse the first's commit; if the first dies there instead, the second takes over and builds it once.
 */
class ConcurrentProcessesTest {

    static final Duration LIMIT = Duration.ofMinutes(2);
    static final String STAGE = "import-images";

    @TempDir
    Path tmp;

    Path store;
    List<String> settings;

    @BeforeEach
    void data() throws IOException {
        store = tmp.resolve("store");
        settings = List.of("data.path=" + TestDatasets.fashionMnist(tmp.resolve("fm"), 40, 0));
    }

    private ChildJvm run(List<String> extraJvm) throws IOException {
        List<String> jvm = new ArrayList<>(ChildJvm.SMALL);
        jvm.addAll(extraJvm);
        List<String> args = new ArrayList<>(List.of(store.toString(), "import", "all"));
        args.addAll(settings);
        return ChildJvm.start(StageProcess.class, jvm, args);
    }

    @Test
    void theSecondRunWaitsForTheFirstsCommitAndReusesIt() throws Exception {
        Path release = tmp.resolve("release");
        try (ChildJvm first = run(List.of("-D" + PausePoint.PROPERTY + "=manifest-commit", "-D" + PausePoint.RELEASE + "=" + release))) {
            first.awaitLine(PausePoint.MARKER + "manifest-commit", LIMIT);
            try (ChildJvm second = run(List.of())) {
                String waiting = second.awaitLine(STAGE, LIMIT);
                assertTrue(waiting.contains(" wait ") && waiting.contains("process " + first.pid()), waiting);
                Files.createFile(release);
                assertEquals(StageProcess.DONE + STAGE + "=miss", first.awaitLine(StageProcess.DONE, LIMIT));
                assertEquals(StageProcess.DONE + STAGE + "=hit", second.awaitLine(StageProcess.DONE, LIMIT));
                assertEquals(0, first.awaitExit(LIMIT));
                assertEquals(0, second.awaitExit(LIMIT));
                assertFalse(second.output().contains("building"), second.output());
            }
        }
        assertBuiltOnce();
    }

    @Test
    void whenTheBuilderIsKilledTheWaitingRunTakesOverAndBuildsOnce() throws Exception {
        try (ChildJvm first = run(List.of("-D" + PausePoint.PROPERTY + "=manifest-commit"))) {
            first.awaitLine(PausePoint.MARKER + "manifest-commit", LIMIT);
            try (ChildJvm second = run(List.of())) {
                assertTrue(second.awaitLine(STAGE, LIMIT).contains(" wait "));
                first.kill();
                assertEquals(StageProcess.DONE + STAGE + "=miss", second.awaitLine(StageProcess.DONE, LIMIT));
                assertEquals(0, second.awaitExit(LIMIT));
            }
        }
        assertBuiltOnce();
    }

    /** One committed artifact, without leftovers of a killed writer, and one run record that built it. */
    private void assertBuiltOnce() throws IOException {
        ArtifactStore s = new ArtifactStore(store.toString());
        List<ArtifactManifest> committed = s.committed(STAGE);
        assertEquals(1, committed.size());
        assertEquals(40L, committed.get(0).getCounts().get("images"));
        long built = s.runs().stream().map(RunRecord::getStages).flatMap(List::stream).filter(r -> !r.getHit()).count();
        assertEquals(1, built);
        try (Stream<Path> files = Files.list(store.resolve(STAGE).resolve(committed.get(0).getKey()))) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().contains(".partial")), "a killed writer's partial file is left");
        }
    }
}
