package org.transcend.pipelines.store;

import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageException;
import com.google.cloud.storage.contrib.nio.testing.LocalStorageHelper;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * google-cloud-nio's in-memory Storage (no GCS-compatible server can be installed from the registries reachable
 * here) plus the GCS semantics the store relies on, which that fake lacks: object generations, a create with
 * {@code doesNotExist} or {@code generationMatch} and a generation-matched delete, failing with HTTP 412.
 */
final class FakeGcs {
    private FakeGcs() {}

    static Storage create() {
        Storage fake = LocalStorageHelper.getOptions().getService();
        Map<String, Long> generations = new ConcurrentHashMap<>();
        long[] counter = {0};
        return (Storage) Proxy.newProxyInstance(Storage.class.getClassLoader(), new Class<?>[]{Storage.class}, (proxy, m, args) -> {
            synchronized (generations) {
                if (m.getName().equals("create") && args != null && args.length == 3 && args[0] instanceof BlobInfo info
                        && args[1] instanceof byte[] bytes && args[2] instanceof Storage.BlobTargetOption[] options) {
                    BlobId id = info.getBlobId();
                    Long current = generations.get(key(id));
                    boolean exists = current != null || fake.get(BlobId.of(id.getBucket(), id.getName())) != null;
                    if (Arrays.asList(options).contains(Storage.BlobTargetOption.doesNotExist()) && exists) {
                        throw new StorageException(412, "Precondition Failed");
                    }
                    if (Arrays.asList(options).contains(Storage.BlobTargetOption.generationMatch())
                            && (current == null || !current.equals(id.getGeneration()))) {
                        throw new StorageException(412, "Precondition Failed");
                    }
                    Blob b = fake.create(BlobInfo.newBuilder(BlobId.of(id.getBucket(), id.getName())).build(), bytes);
                    long g = ++counter[0];
                    generations.put(key(id), g);
                    return withGeneration(b, g);
                }
                if (m.getName().equals("get") && args != null && args.length >= 1 && args[0] instanceof BlobId id) {
                    Long current = generations.get(key(id));
                    // Objects written through other calls (Beam's GcsUtil streams) exist without a tracked generation.
                    Blob plain = fake.get(BlobId.of(id.getBucket(), id.getName()));
                    return current == null || plain == null ? plain : withGeneration(plain, current);
                }
                if (m.getName().equals("delete") && args != null && args.length == 2 && args[0] instanceof BlobId id
                        && args[1] instanceof Storage.BlobSourceOption[] options) {
                    Long current = generations.get(key(id));
                    if (current == null) return false;
                    if (Arrays.asList(options).contains(Storage.BlobSourceOption.generationMatch()) && !current.equals(id.getGeneration())) {
                        throw new StorageException(412, "Precondition Failed");
                    }
                    generations.remove(key(id));
                    return fake.delete(BlobId.of(id.getBucket(), id.getName()));
                }
                if (m.getName().equals("readAllBytes") && args != null && args[0] instanceof BlobId id) {
                    return fake.readAllBytes(BlobId.of(id.getBucket(), id.getName()));
                }
                try {
                    return m.invoke(fake, args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            }
        });
    }

    private static String key(BlobId id) {
        return id.getBucket() + "/" + id.getName();
    }

    private static Blob withGeneration(Blob b, long generation) {
        return b.toBuilder().setBlobId(BlobId.of(b.getBucket(), b.getName(), generation)).build();
    }
}
