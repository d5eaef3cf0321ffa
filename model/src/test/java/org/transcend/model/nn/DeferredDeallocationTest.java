package org.transcend.model.nn;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeferredDeallocationTest {

    /**
     * The pattern that crashed warmup-align: a bias add on a view made for the op, with collections running all the time.
     * Without the deferred service this JVM dies (SIGSEGV in libnd4j) within the first hundred thousand iterations.
     */
    @Test
    void opsOnViewsMadeForThemSurviveCollectionsDuringTheOp() throws Exception {
        DeferredDeallocation.install();
        INDArray bias = Nd4j.rand(DataType.FLOAT, 6 * 128);
        INDArray out = Nd4j.zeros(DataType.FLOAT, 64, 128);
        Thread collector = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                System.gc();
                try { Thread.sleep(1); } catch (InterruptedException e) { return; }
            }
        });
        collector.setDaemon(true);
        collector.start();
        int iterations = 120_000;
        try {
            for (int i = 0; i < iterations; i++) {
                int j = i % 6;
                out.addiRowVector(bias.get(NDArrayIndex.interval(j * 128, (j + 1) * 128)));
            }
        } finally {
            collector.interrupt();
        }
        // every row got each chunk as often as the loop went round: column 0 holds the sum of the chunks' first values
        double expected = 0;
        for (int j = 0; j < 6; j++) expected += bias.getDouble(j * 128L) * (iterations / 6);
        assertEquals(expected, out.getDouble(0, 0), 1e-2 * expected, "after " + iterations + " iterations");
    }

    /** Deferred is not never: the memory of dropped arrays comes back once they are due. */
    @Test
    void droppedBuffersAreStillFreed() throws Exception {
        DeferredDeallocation.install();
        long before = residentBytes();
        for (int i = 0; i < 20; i++) Nd4j.create(DataType.FLOAT, 25_000_000).assign(1); // 100 MB each, dropped at once
        long peak = residentBytes();
        for (int i = 0; i < 10 && residentBytes() > before + (peak - before) / 2; i++) {
            System.gc();
            Thread.sleep(DeferredDeallocation.DELAY_MS / 2);
        }
        long after = residentBytes();
        assertTrue(peak - before > 500_000_000L, "the arrays did not take memory: " + (peak - before) + " bytes");
        assertTrue(after < before + (peak - before) / 2, "resident memory " + before + " -> " + peak + " -> " + after
                + " bytes: the dropped arrays were not freed");
    }

    private static long residentBytes() throws IOException {
        String rss = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS:")).findFirst().orElseThrow();
        return Long.parseLong(rss.replaceAll("\\D", "")) * 1024;
    }
}
