package org.apache.beam.sdk.extensions.gcp.util;

import com.google.api.client.util.DateTime;
import com.google.api.services.storage.model.Objects;
import com.google.api.services.storage.model.StorageObject;
import com.google.cloud.hadoop.gcsio.GoogleCloudStorage;
import com.google.cloud.hadoop.gcsio.GoogleCloudStorageOptions;
import com.google.cloud.hadoop.gcsio.GoogleCloudStorageReadOptions;
import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import org.apache.beam.sdk.extensions.gcp.util.gcsfs.GcsPath;
import org.apache.beam.sdk.io.fs.MoveOptions;

import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;

/**
 * Beam's GCS access layer over a {@code com.google.cloud.storage.Storage} (google-cloud-nio's in-memory one in tests),
 * so Beam's own {@code GcsFileSystem} (gs:// paths, globs, AvroIO, renames) runs against it. It overrides the calls
 * GcsFileSystem makes: object lookups, listing, open, create, copy, rename and remove. It lives in Beam's package
 * because GcsUtil's constructor is package-private.
 */
public final class InMemoryGcsUtil extends GcsUtil {

    private final transient Storage storage;

    public InMemoryGcsUtil(Storage storage) {
        super(null, null, null, Boolean.FALSE, null, null, null, GcsCountersOptions.create(null, null),
                GoogleCloudStorageReadOptions.DEFAULT);
        this.storage = storage;
    }

    /** GcsUtil builds a client for the real service here; nothing of it is used. */
    @Override
    GoogleCloudStorage createGoogleCloudStorage(GoogleCloudStorageOptions options, com.google.api.services.storage.Storage client,
                                                com.google.auth.Credentials credentials) {
        return null;
    }

    private static BlobId id(GcsPath path) {
        return BlobId.of(path.getBucket(), path.getObject());
    }

    private static StorageObject object(Blob blob) {
        return new StorageObject().setBucket(blob.getBucket()).setName(blob.getName()).setSize(BigInteger.valueOf(blob.getSize()))
                .setUpdated(new DateTime(blob.getUpdateTimeOffsetDateTime() == null ? 0L : blob.getUpdateTimeOffsetDateTime().toInstant().toEpochMilli()));
    }

    @Override
    public StorageObject getObject(GcsPath path) throws IOException {
        Blob blob = storage.get(id(path));
        if (blob == null) throw new FileNotFoundException(path + " does not exist");
        return object(blob);
    }

    @Override
    public List<StorageObjectOrIOException> getObjects(List<GcsPath> paths) {
        List<StorageObjectOrIOException> out = new ArrayList<>();
        for (GcsPath p : paths) {
            try {
                out.add(StorageObjectOrIOException.create(getObject(p)));
            } catch (IOException e) {
                out.add(StorageObjectOrIOException.create(e));
            }
        }
        return out;
    }

    @Override
    public Objects listObjects(String bucket, String prefix, String pageToken) {
        List<StorageObject> items = new ArrayList<>();
        for (Blob b : storage.list(bucket, Storage.BlobListOption.prefix(prefix)).iterateAll()) items.add(object(b));
        return new Objects().setItems(items);
    }

    @Override
    public SeekableByteChannel open(GcsPath path) throws IOException {
        byte[] bytes;
        try {
            bytes = storage.readAllBytes(id(path));
        } catch (RuntimeException e) {
            throw new FileNotFoundException(path + ": " + e.getMessage());
        }
        Path local = Files.createTempFile("gcs-", ".object");
        Files.write(local, bytes);
        return FileChannel.open(local, StandardOpenOption.READ, StandardOpenOption.DELETE_ON_CLOSE);
    }

    @Override
    public WritableByteChannel create(GcsPath path, CreateOptions options) {
        return Channels.newChannel(new ByteArrayOutputStream() {
            @Override
            public void close() {
                storage.create(BlobInfo.newBuilder(id(path)).build(), toByteArray());
            }
        });
    }

    @Override
    public void copy(Iterable<String> sources, Iterable<String> destinations) throws IOException {
        Iterator<String> d = destinations.iterator();
        for (String s : sources) {
            BlobId from = id(GcsPath.fromUri(s)), to = id(GcsPath.fromUri(d.next()));
            if (storage.get(from) == null) throw new FileNotFoundException(s + " does not exist");
            storage.copy(Storage.CopyRequest.of(from, to)).getResult();
        }
    }

    @Override
    public void rename(Iterable<String> sources, Iterable<String> destinations, MoveOptions... options) throws IOException {
        boolean ignoreMissing = Arrays.asList(options).contains(MoveOptions.StandardMoveOptions.IGNORE_MISSING_FILES);
        Iterator<String> d = destinations.iterator();
        for (String s : sources) {
            String dest = d.next();
            BlobId from = id(GcsPath.fromUri(s));
            if (storage.get(from) == null) {
                if (ignoreMissing) continue;
                throw new FileNotFoundException(s + " does not exist");
            }
            storage.copy(Storage.CopyRequest.of(from, id(GcsPath.fromUri(dest)))).getResult();
            storage.delete(from);
        }
    }

    @Override
    public void remove(Collection<String> paths) {
        for (String p : paths) storage.delete(id(GcsPath.fromUri(p)));
    }
}
