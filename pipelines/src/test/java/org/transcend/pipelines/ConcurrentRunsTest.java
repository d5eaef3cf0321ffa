package org.transcend.pipelines;

import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.steps.ImportStep;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Two orchestrators on one store at once, in two threads: the artifact is built once, committed once, and the other
 * run waits for it and reuses it. (The tests module does the same with two processes.)
 */
class ConcurrentRunsTest {

    @TempDir
    Path tmp;

    /** The real import stage, held after writing its data until the other run is seen waiting; builds are counted. */
    static final class HeldImport implements PipelineStage {
        final ImportStep real = new ImportStep();
        final AtomicInteger builds = new AtomicInteger();
        final CountDownLatch otherIsWaiting;
        final boolean failFirstBuild;

        HeldImport(CountDownLatch otherIsWaiting, boolean failFirstBuild) {
            this.otherIsWaiting = otherIsWaiting;
            this.failFirstBuild = failFirstBuild;
        }

        public StageIdentity identity() { return real.identity(); }
        public List<String> settingKeys(Settings s) { return real.settingKeys(s); }
        public List<String> upstream() { return real.upstream(); }

        public StageOutcome build(StageContext ctx) throws Exception {
            int n = builds.incrementAndGet();
            StageOutcome out = real.build(ctx);
            if (n == 1) {
                assertTrue(otherIsWaiting.await(60, TimeUnit.SECONDS), "the second run never waited for the lease");
                if (failFirstBuild) throw new IllegalStateException("the first builder fails after writing its data");
            }
            return out;
        }
    }

    /** A log that counts the latch down when the run prints that it waits for another's build. */
    private static PrintStream watching(CountDownLatch waiting, StringBuilder text) {
        return new PrintStream(new OutputStream() {
            private final ByteArrayOutputStream line = new ByteArrayOutputStream();

            @Override
            public synchronized void write(int b) {
                if (b != '\n') {
                    line.write(b);
                    return;
                }
                String l = line.toString(StandardCharsets.UTF_8);
                line.reset();
                synchronized (text) {
                    text.append(l).append('\n');
                }
                if (l.contains(" wait ")) waiting.countDown();
            }
        }, true);
    }

    private RunRecord[] runTwoAtOnce(HeldImport stage, CountDownLatch waiting, StringBuilder log) throws Exception {
        Path data = TestDatasets.fashionMnist(tmp.resolve("fm"), 40, 0);
        Settings settings = Settings.resolve(null, List.of("data.path=" + data));
        PipelineDefinition def = new PipelineDefinition("import", "import, held", List.of(stage));
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<RunRecord> first = pool.submit(() -> new Orchestrator(new ArtifactStore(tmp.resolve("store").toString()), settings,
                    PipelineOptionsFactory.create(), watching(waiting, log)).run(def, Set.of(), Set.of()));
            // The second starts once the first is building, so the two overlap for certain.
            while (stage.builds.get() == 0) Thread.sleep(20);
            Future<RunRecord> second = pool.submit(() -> new Orchestrator(new ArtifactStore(tmp.resolve("store").toString()), settings,
                    PipelineOptionsFactory.create(), watching(waiting, log)).run(def, Set.of(), Set.of()));
            return new RunRecord[]{get(first), get(second)};
        } finally {
            pool.shutdownNow();
        }
    }

    private static RunRecord get(Future<RunRecord> f) throws Exception {
        try {
            return f.get(120, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            return null;
        }
    }

    @Test
    void theSecondRunWaitsForTheFirstsCommitAndReusesIt() throws Exception {
        CountDownLatch waiting = new CountDownLatch(1);
        HeldImport stage = new HeldImport(waiting, false);
        StringBuilder log = new StringBuilder();
        RunRecord[] runs = runTwoAtOnce(stage, waiting, log);
        assertEquals(1, stage.builds.get(), "built once:\n" + log);
        StageRun first = runs[0].getStages().get(0), second = runs[1].getStages().get(0);
        assertFalse(first.getHit());
        assertTrue(second.getHit(), "the second run reuses the first's artifact");
        assertEquals(first.getKey(), second.getKey());
        assertEquals(40L, second.getCounts().get("images"));
        ArtifactStore store = new ArtifactStore(tmp.resolve("store").toString());
        assertEquals(1, store.committed(first.getStage()).size());
        assertTrue(log.toString().contains("being built by another run in this process"), log.toString());
    }

    @Test
    void whenTheBuilderFailsTheWaitingRunTakesTheLeaseAndBuildsItself() throws Exception {
        CountDownLatch waiting = new CountDownLatch(1);
        HeldImport stage = new HeldImport(waiting, true);
        StringBuilder log = new StringBuilder();
        RunRecord[] runs = runTwoAtOnce(stage, waiting, log);
        assertNull(runs[0], "the first run failed");
        assertEquals(2, stage.builds.get());
        assertFalse(runs[1].getStages().get(0).getHit(), "the second run built the artifact itself");
        ArtifactStore store = new ArtifactStore(tmp.resolve("store").toString());
        assertEquals(1, store.committed(runs[1].getStages().get(0).getStage()).size());
        assertEquals(40L, store.committed(runs[1].getStages().get(0).getStage()).get(0).getCounts().get("images"));
    }
}
