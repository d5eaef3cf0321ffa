package org.transcend.pipelines;

import org.transcend.schemas.PeakMemory;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The peak memory of one stage built in this process (on the DirectRunner, all of it; on a distributed runner the
 * launcher's share): the Java heap (the sum of the heap pools' peaks, an upper bound), the resident memory outside
 * the committed heap (ND4J 1.0.0-M2.1 allocates its CPU buffers in libnd4j, outside JavaCPP's byte counts, so this is
 * where they show), and the process's resident set. The resident peak is the kernel's high-water mark, reset when
 * the stage starts where Linux allows it, else the largest of the samples taken every {@value #SAMPLE_MILLIS} ms.
 */
public final class MemoryMeter implements AutoCloseable {

    static final long SAMPLE_MILLIS = 20;
    private static final Path STATUS = Path.of("/proc/self/status");

    private final boolean kernelPeak;
    private final AtomicLong outsideHeap = new AtomicLong();
    private final AtomicLong resident = new AtomicLong();
    private final Thread sampler;
    private volatile boolean running = true;

    private MemoryMeter() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) pool.resetPeakUsage();
        }
        kernelPeak = resetResidentPeak();
        sampler = new Thread(() -> {
            while (running) {
                sample();
                try {
                    Thread.sleep(SAMPLE_MILLIS);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "stage-memory-meter");
        sampler.setDaemon(true);
        sample();
        sampler.start();
    }

    public static MemoryMeter start() {
        return new MemoryMeter();
    }

    private void sample() {
        long rss = statusBytes("VmRSS:");
        resident.accumulateAndGet(rss, Math::max);
        outsideHeap.accumulateAndGet(rss - ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted(), Math::max);
    }

    /** Stops sampling and returns the peaks since {@link #start()}. */
    public PeakMemory stop() {
        close();
        sample();
        long heap = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) heap += pool.getPeakUsage().getUsed();
        }
        long rss = kernelPeak ? Math.max(resident.get(), statusBytes("VmHWM:")) : resident.get();
        return new PeakMemory(heap, Math.max(0, outsideHeap.get()), rss);
    }

    @Override
    public void close() {
        running = false;
        sampler.interrupt();
        try {
            sampler.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Bytes for a person: "512 MB", "1.3 GB". */
    public static String format(long bytes) {
        if (bytes >= 1L << 30) return String.format(java.util.Locale.ROOT, "%.1f GB", bytes / (double) (1L << 30));
        return String.format(java.util.Locale.ROOT, "%d MB", Math.round(bytes / (double) (1L << 20)));
    }

    /** The current resident set size of this process in bytes; 0 where /proc is absent. */
    public static long residentBytes() {
        return statusBytes("VmRSS:");
    }

    /** Resets the kernel's resident high-water mark (Linux 4.0+: "5" to /proc/self/clear_refs); false where refused. */
    private static boolean resetResidentPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    private static long statusBytes(String field) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(field)) {
                    String[] parts = line.substring(field.length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024; // the kernel reports kB
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }
}
