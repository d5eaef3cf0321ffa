package org.transcend.pipelines.store;

import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageException;
import com.google.cloud.storage.contrib.nio.testing.LocalStorageHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The GCS side of the manifest commit, against google-cloud-nio's in-memory Storage (no GCS-compatible server
 * can be installed from the registries reachable here). That fake refuses every precondition option, so the test
 * adds the one GCS semantics the commit relies on: a create with {@code doesNotExist} fails with HTTP 412 when
 * the object exists.
 */
class GcsManifestCommitTest {

    @AfterEach
    void reset() {
        ManifestCommitter.useGcs(null);
    }

    static Storage withDoesNotExistPrecondition(Storage fake) {
        return (Storage) Proxy.newProxyInstance(Storage.class.getClassLoader(), new Class<?>[]{Storage.class}, (proxy, m, args) -> {
            boolean conditionalCreate = m.getName().equals("create") && args != null && args.length == 3
                    && args[0] instanceof BlobInfo && args[1] instanceof byte[] && args[2] instanceof Storage.BlobTargetOption[];
            if (conditionalCreate) {
                BlobInfo info = (BlobInfo) args[0];
                boolean doesNotExist = Arrays.asList((Storage.BlobTargetOption[]) args[2]).contains(Storage.BlobTargetOption.doesNotExist());
                if (doesNotExist && fake.get(info.getBlobId()) != null) throw new StorageException(412, "Precondition Failed");
                return fake.create(info, (byte[]) args[1]);
            }
            try {
                return m.invoke(fake, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    @Test
    void theFirstCommitWinsAndASecondIsRefusedByThePrecondition() throws Exception {
        Storage storage = withDoesNotExistPrecondition(LocalStorageHelper.getOptions().getService());
        ManifestCommitter.useGcs(storage);
        String path = "gs://bucket/store/import-images/abc/_MANIFEST";
        assertTrue(ManifestCommitter.createIfAbsent(path, "first".getBytes(StandardCharsets.UTF_8)));
        assertFalse(ManifestCommitter.createIfAbsent(path, "second".getBytes(StandardCharsets.UTF_8)));
        byte[] stored = storage.readAllBytes(BlobId.of("bucket", "store/import-images/abc/_MANIFEST"));
        assertEquals("first", new String(stored, StandardCharsets.UTF_8));
    }
}
