package org.transcend.pipelines.store;

import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageException;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The right to build one artifact, {@code <dir>/_BUILDING}, held by at most one run at a time: two runs of one
 * pipeline on one store build each artifact once, and the other waits for the manifest.
 *
 * <p>Locally the lease is an OS lock on the file, which the kernel releases when the holder dies however it dies,
 * so a crashed builder's lease is free at once; the file itself stays (it names the last holder). On GCS it is an
 * object created with a does-not-exist precondition; its holder rewrites it every quarter of {@code staleAfter}
 * (a generation-matched write) and deletes it when done. An object whose heartbeat is older than {@code staleAfter}
 * was left by a dead run: it is deleted (generation-matched, so only that version) and the lease taken over. A
 * holder that loses its lease that way goes on; the create-only-if-absent manifest still commits only once.
 */
public final class BuildLease implements AutoCloseable {

    public static final String FILE = "_BUILDING";

    /** Leases held by this JVM, by file: POSIX locks belong to the process, so threads coordinate here first. */
    private static final Map<Path, Boolean> HELD_HERE = new ConcurrentHashMap<>();

    private final Path localFile;
    private final FileChannel channel;
    private final FileLock lock;
    private final GcsLease gcs;

    private BuildLease(Path localFile, FileChannel channel, FileLock lock, GcsLease gcs) {
        this.localFile = localFile;
        this.channel = channel;
        this.lock = lock;
        this.gcs = gcs;
    }

    /**
     * The lease on the artifact directory {@code dir} if it is free (or, on GCS, stale); otherwise empty, with who
     * holds it appended to {@code holder}.
     */
    static Optional<BuildLease> tryAcquire(String dir, Duration staleAfter, StringBuilder holder) throws IOException {
        String path = dir + FILE;
        if (path.startsWith("gs://")) return GcsLease.tryAcquire(path, staleAfter, holder).map(g -> new BuildLease(null, null, null, g));
        return tryAcquireLocal(ManifestCommitter.localPath(path), holder);
    }

    private static Optional<BuildLease> tryAcquireLocal(Path file, StringBuilder holder) throws IOException {
        if (HELD_HERE.putIfAbsent(file, Boolean.TRUE) != null) {
            holder.append("another run in this process");
            return Optional.empty();
        }
        FileChannel ch = null;
        try {
            Files.createDirectories(file.getParent());
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                ByteBuffer b = ByteBuffer.allocate((int) Math.min(4096, ch.size()));
                ch.read(b, 0);
                holder.append(new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).trim());
                ch.close();
                HELD_HERE.remove(file);
                return Optional.empty();
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(describeThisRun().getBytes(StandardCharsets.UTF_8)), 0);
            return Optional.of(new BuildLease(file, ch, lock, null));
        } catch (IOException | RuntimeException e) {
            if (ch != null) ch.close();
            HELD_HERE.remove(file);
            throw e;
        }
    }

    static String describeThisRun() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "unknown host";
        }
        return "process " + ManagementFactory.getRuntimeMXBean().getPid() + " on " + host + " since " + Instant.now();
    }

    @Override
    public void close() throws IOException {
        if (gcs != null) {
            gcs.release();
            return;
        }
        try {
            lock.release();
            channel.close();
        } finally {
            HELD_HERE.remove(localFile);
        }
    }

    /** The GCS form: an object whose body is the holder and its last heartbeat (epoch millis). */
    private static final class GcsLease {
        private static final ScheduledExecutorService HEARTBEATS = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "build-lease-heartbeat");
            t.setDaemon(true);
            return t;
        });

        private final Storage storage;
        private final BlobId id;
        private final String holder;
        private volatile long generation;
        private volatile boolean lost;
        private java.util.concurrent.ScheduledFuture<?> heartbeat;

        private GcsLease(Storage storage, BlobId id, String holder, long generation) {
            this.storage = storage;
            this.id = id;
            this.holder = holder;
            this.generation = generation;
        }

        static Optional<GcsLease> tryAcquire(String path, Duration staleAfter, StringBuilder holderOut) {
            Storage storage = ManifestCommitter.gcs();
            BlobId id = ManifestCommitter.blobId(path);
            String holder = describeThisRun() + " (" + UUID.randomUUID() + ")";
            try {
                Blob b = storage.create(BlobInfo.newBuilder(id).setContentType("text/plain").build(), body(holder),
                        Storage.BlobTargetOption.doesNotExist());
                GcsLease lease = new GcsLease(storage, id, holder, b.getGeneration());
                long every = Math.max(1, staleAfter.toMillis() / 4);
                lease.heartbeat = HEARTBEATS.scheduleAtFixedRate(lease::beat, every, every, TimeUnit.MILLISECONDS);
                return Optional.of(lease);
            } catch (StorageException e) {
                if (e.getCode() != 412) throw e;
            }
            Blob current = storage.get(id);
            if (current == null) return Optional.empty(); // released in between: the next attempt takes it
            String[] lines = new String(storage.readAllBytes(current.getBlobId()), StandardCharsets.UTF_8).split("\n");
            long beat = lines.length > 1 ? Long.parseLong(lines[1].trim()) : 0;
            holderOut.append(lines[0]).append(", last heartbeat ").append(Instant.ofEpochMilli(beat));
            if (System.currentTimeMillis() - beat > staleAfter.toMillis()) {
                try {
                    storage.delete(BlobId.of(id.getBucket(), id.getName(), current.getGeneration()),
                            Storage.BlobSourceOption.generationMatch());
                } catch (StorageException e) {
                    if (e.getCode() != 412 && e.getCode() != 404) throw e; // another waiter took it over first
                }
            }
            return Optional.empty();
        }

        private static byte[] body(String holder) {
            return (holder + "\n" + System.currentTimeMillis() + "\n").getBytes(StandardCharsets.UTF_8);
        }

        private synchronized void beat() {
            if (lost) return;
            try {
                Blob b = storage.create(BlobInfo.newBuilder(BlobId.of(id.getBucket(), id.getName(), generation))
                        .setContentType("text/plain").build(), body(holder), Storage.BlobTargetOption.generationMatch());
                generation = b.getGeneration();
            } catch (StorageException e) {
                if (e.getCode() == 412 || e.getCode() == 404) {
                    lost = true;
                    System.err.println("warning: the build lease gs://" + id.getBucket() + "/" + id.getName()
                            + " was taken over (this run's heartbeat was late); its manifest commit stays exclusive");
                }
                // any other error: the next beat retries
            }
        }

        synchronized void release() {
            heartbeat.cancel(false);
            if (lost) return;
            try {
                storage.delete(BlobId.of(id.getBucket(), id.getName(), generation), Storage.BlobSourceOption.generationMatch());
            } catch (StorageException e) {
                if (e.getCode() != 412 && e.getCode() != 404) throw e;
            }
        }
    }
}
