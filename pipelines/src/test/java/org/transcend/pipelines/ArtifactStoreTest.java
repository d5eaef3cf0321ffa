package org.transcend.pipelines;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.pipelines.store.Preimage;
import org.transcend.schemas.ArtifactManifest;

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
