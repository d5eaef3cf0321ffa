package org.transcend.pipelines.store;

import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

class BuildLeaseTest {

    static final Duration STALE = Duration.ofMillis(400);

    @TempDir
    Path dir;

    @AfterEach
    void reset() {
        ManifestCommitter.useGcs(null);
    }

    @Test
    void aLocalLeaseIsHeldByOneRunAtATimeAndFreeOnceClosed() throws Exception {
        String artifact = dir.resolve("s/k").toString() + "/";
        Optional<BuildLease> first = BuildLease.tryAcquire(artifact, STALE, new StringBuilder());
        assertTrue(first.isPresent());
        StringBuilder holder = new StringBuilder();
        assertTrue(BuildLease.tryAcquire(artifact, STALE, holder).isEmpty());
        assertEquals("another run in this process", holder.toString());
        first.get().close();
        Optional<BuildLease> second = BuildLease.tryAcquire(artifact, STALE, new StringBuilder());
        assertTrue(second.isPresent(), "a released lease can be taken");
        second.get().close();
    }

    @Test
    void aGcsLeaseIsExclusiveKeptAliveByItsHeartbeatAndReleasedOnClose() throws Exception {
        ManifestCommitter.useGcs(FakeGcs.create());
        String artifact = "gs://bucket/store/s/k/";
        BuildLease held = BuildLease.tryAcquire(artifact, STALE, new StringBuilder()).orElseThrow();
        Thread.sleep(3 * STALE.toMillis()); // well past the stale age: only the heartbeat keeps the lease
        StringBuilder holder = new StringBuilder();
        assertTrue(BuildLease.tryAcquire(artifact, STALE, holder).isEmpty(), "a live holder's lease is never taken over");
        assertTrue(holder.toString().contains("process " + ProcessHandle.current().pid()), holder.toString());
        assertTrue(BuildLease.tryAcquire(artifact, STALE, new StringBuilder()).isEmpty(), "a look never clears a live lease");
        held.close();
        BuildLease next = BuildLease.tryAcquire(artifact, STALE, new StringBuilder()).orElseThrow();
        next.close();
    }

    @Test
    void aGcsLeaseWithoutHeartbeatForTheStaleAgeIsTakenOver() throws Exception {
        Storage gcs = FakeGcs.create();
        ManifestCommitter.useGcs(gcs);
        long longAgo = System.currentTimeMillis() - 10 * STALE.toMillis();
        gcs.create(BlobInfo.newBuilder(BlobId.of("bucket", "store/s/k/_BUILDING")).build(),
                ("process 1 on a lost machine\n" + longAgo + "\n").getBytes(StandardCharsets.UTF_8), Storage.BlobTargetOption.doesNotExist());
        StringBuilder holder = new StringBuilder();
        assertTrue(BuildLease.tryAcquire("gs://bucket/store/s/k/", STALE, holder).isEmpty(), "the first look only clears the stale lease");
        assertTrue(holder.toString().startsWith("process 1 on a lost machine"), holder.toString());
        BuildLease taken = BuildLease.tryAcquire("gs://bucket/store/s/k/", STALE, new StringBuilder()).orElseThrow();
        taken.close();
        assertNull(gcs.get(BlobId.of("bucket", "store/s/k/_BUILDING")), "closing deletes the lease object");
    }
}
