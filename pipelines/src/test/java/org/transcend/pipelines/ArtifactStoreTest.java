package org.transcend.pipelines;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.pipelines.store.Preimage;
import org.transcend.schemas.ArtifactManifest;
import org.transcend.schemas.PeakMemory;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

class ArtifactStoreTest {

    @TempDir
    Path dir;

    private final Preimage pre = Preimage.of(Map.of("stage", "s", "setting.x", "1"));

    @Test
    void anArtifactWithoutManifestIsInvisibleAndCommitListsItsFiles() throws Exception {
        ArtifactStore store = new ArtifactStore(dir.toString());
        store.writeFile("s", pre.key(), "data.bin", new byte[]{1, 2, 3});
        assertTrue(store.committed("s", pre.key()).isEmpty());
        assertTrue(store.committed("s").isEmpty());
        ArtifactManifest m = store.commit("s", 1, pre, Map.of("records", 3L), Map.of());
        assertEquals(pre.key(), m.getKey());
        assertEquals(1, m.getFiles().size());
        assertEquals("data.bin", m.getFiles().get(0).getPath());
        assertEquals(3L, m.getFiles().get(0).getBytes());
        assertEquals(m, store.committed("s", pre.key()).orElseThrow());
        assertArrayEquals(new byte[]{1, 2, 3}, store.readFile("s", pre.key(), "data.bin"));
    }

    @Test
    void twoConcurrentWritersOfOneKeyLeaveExactlyOneCompleteArtifact() throws Exception {
        ArtifactStore store = new ArtifactStore(dir.toString());
        byte[] payload = new byte[4 << 20];
        for (int i = 0; i < payload.length; i++) payload[i] = (byte) (i * 31);
        int writers = 4;
        CyclicBarrier start = new CyclicBarrier(writers);
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        List<Future<ArtifactManifest>> results = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            results.add(pool.submit(() -> {
                start.await();
                store.writeFile("s", pre.key(), "data.bin", payload);
                return store.commit("s", 1, pre, Map.of("records", 1L), Map.of());
            }));
        }
        List<Long> commitTimes = new ArrayList<>();
        for (Future<ArtifactManifest> f : results) commitTimes.add(f.get().getCommittedAtMillis());
        pool.shutdown();
        assertEquals(1, commitTimes.stream().distinct().count(), "every writer must see the one winning manifest");
        Path art = dir.resolve("s").resolve(pre.key());
        try (var files = Files.list(art)) {
            assertEquals(List.of("_MANIFEST", "data.bin"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertArrayEquals(payload, Files.readAllBytes(art.resolve("data.bin")));
        assertEquals(1, store.committed("s").size());
    }

    @Test
    void invalidateRemovesTheManifestSoTheArtifactIsRebuilt() throws Exception {
        ArtifactStore store = new ArtifactStore(dir.toString());
        store.writeFile("s", pre.key(), "a", new byte[]{1});
        store.commit("s", 1, pre, Map.of(), Map.of());
        store.invalidate("s", pre.key());
        assertTrue(store.committed("s", pre.key()).isEmpty());
    }

    @Test
    void aRunRecordWrittenBeforeStagesHadPeakMemoryStillReads() throws Exception {
        String older = "{\"runId\": \"r1\", \"pipeline\": \"import\", \"startedAtMillis\": 7, \"stages\": [{\"stage\": \"import-images\", "
                + "\"key\": \"abc\", \"hit\": false, \"wallMillis\": 12, \"counts\": {\"images\": 3}, \"deadLetters\": 0}]}";
        Files.createDirectories(dir.resolve("_runs"));
        Files.writeString(dir.resolve("_runs/r1.json"), older);
        RunRecord read = new ArtifactStore(dir.toString()).runs().get(0);
        StageRun s = read.getStages().get(0);
        assertEquals(3L, s.getCounts().get("images"));
        assertTrue(s.getMetrics().isEmpty(), "metrics, added later too, default to empty");
        assertNull(s.getMemory());

        StageRun measured = new StageRun("train-vae", "def", false, 5L, Map.of(), 0L, Map.of(), new PeakMemory(1L, 2L, 3L));
        RunRecord current = new RunRecord("r2", "latents", 8L, List.of(measured));
        new ArtifactStore(dir.toString()).writeRun(current);
        assertEquals(current, new ArtifactStore(dir.toString()).runs().get(1));
    }

    @Test
    void keysIgnoreInsertionOrderAndChangeWithAnyField() {
        Preimage a = Preimage.of(Map.of("a", "1", "b", "2"));
        Preimage b = Preimage.of(new java.util.LinkedHashMap<>(Map.of("b", "2", "a", "1")));
        assertEquals(a.key(), b.key());
        assertEquals(64, a.key().length());
        Preimage c = Preimage.of(Map.of("a", "1", "b", "3"));
        assertNotEquals(a.key(), c.key());
        assertEquals(List.of("b"), a.differingFields(c));
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assertNotEquals(Preimage.of(Map.of("ab", "c")).key(), Preimage.of(Map.of("a", "bc")).key());
    }
}
