package org.transcend.pipelines.store;

import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageException;
import com.google.cloud.storage.StorageOptions;
import org.transcend.model.PausePoint;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * Writes a manifest only if none exists yet, atomically, which is what makes an artifact's commit safe
 * against concurrent writers: locally a hard link of a fully written file (link(2) fails if the name
 * exists), on GCS an object create with the does-not-exist precondition.
 */
final class ManifestCommitter {

    /** The GCS client used for gs:// commits; replaceable so tests can use an in-memory implementation. */
    private static volatile Storage gcs;

    private ManifestCommitter() {}

    static void useGcs(Storage storage) {
        gcs = storage;
    }

    /** True when this call created the file, false when it already existed. */
    static boolean createIfAbsent(String path, byte[] bytes) throws IOException {
        if (path.startsWith("gs://")) return createGcs(path, bytes);
        return createLocal(localPath(path), bytes);
    }

    /** A store path on local disk: a plain path or a file: URI; any other scheme is refused. */
    static Path localPath(String path) throws IOException {
        if (path.startsWith("file:")) return Path.of(java.net.URI.create(path).getPath());
        if (path.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*")) {
            throw new IOException("cannot commit artifacts at " + path + "; accepted: local paths and gs://");
        }
        return Path.of(path);
    }

    static Storage gcs() {
        Storage storage = gcs;
        if (storage == null) {
            storage = StorageOptions.getDefaultInstance().getService();
            gcs = storage;
        }
        return storage;
    }

    static BlobId blobId(String gsPath) {
        String rest = gsPath.substring("gs://".length());
        int slash = rest.indexOf('/');
        return BlobId.of(rest.substring(0, slash), rest.substring(slash + 1));
    }

    private static boolean createLocal(Path target, byte[] bytes) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + ".partial-" + UUID.randomUUID());
        Files.write(tmp, bytes, StandardOpenOption.CREATE_NEW, StandardOpenOption.SYNC);
        PausePoint.reach("manifest-commit");
        try {
            Files.createLink(target, tmp);
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static boolean createGcs(String path, byte[] bytes) {
        PausePoint.reach("manifest-commit");
        try {
            gcs().create(BlobInfo.newBuilder(blobId(path)).setContentType("application/json").build(), bytes,
                    Storage.BlobTargetOption.doesNotExist());
            return true;
        } catch (StorageException e) {
            if (e.getCode() == 412) return false; // precondition failed: another writer committed first
            throw e;
        }
    }
}
