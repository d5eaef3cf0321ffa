package org.transcend.pipelines.store;

import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

/** The GCS side of the manifest commit, against {@link FakeGcs}. */
class GcsManifestCommitTest {

    @AfterEach
    void reset() {
        ManifestCommitter.useGcs(null);
    }

    @Test
    void theFirstCommitWinsAndASecondIsRefusedByThePrecondition() throws Exception {
        Storage storage = FakeGcs.create();
        ManifestCommitter.useGcs(storage);
        String path = "gs://bucket/store/import-images/abc/_MANIFEST";
        assertTrue(ManifestCommitter.createIfAbsent(path, "first".getBytes(StandardCharsets.UTF_8)));
        assertFalse(ManifestCommitter.createIfAbsent(path, "second".getBytes(StandardCharsets.UTF_8)));
        byte[] stored = storage.readAllBytes(BlobId.of("bucket", "store/import-images/abc/_MANIFEST"));
        assertEquals("first", new String(stored, StandardCharsets.UTF_8));
    }
}
