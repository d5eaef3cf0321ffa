package org.transcend.model.nn;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeferredDeallocationTest {

    /**
     * The pattern that crashed warmup-align: a bias add on a view made for the op, while the collector runs every
     * millisecond. It runs in a JVM of its own, so that a crash is a failed test rather than a dead test run. Without
     * {@link DeferredDeallocation} that JVM died (SIGSEGV in libnd4j) within 40000 iterations in each of five tries.
     */
    @Test
    void opsOnViewsMadeForThemSurviveCollectionsDuringTheOp() throws Exception {
        Path log = Files.createTempFile("deferred-deallocation", ".log");
        ProcessBuilder loop = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), ViewLoop.class.getName(), "80000")
                .redirectErrorStream(true).redirectOutput(log.toFile());
        // OpenMP's default (spinning) wait, under which the unprotected loop crashed soonest; the tests' passive wait hides it
        loop.environment().remove("OMP_WAIT_POLICY");
        Process child = loop.start();
        assertTrue(child.waitFor(5, TimeUnit.MINUTES), "the loop did not finish in 5 minutes");
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals(0, child.exitValue(), "the loop's JVM failed:\n" + output);
        assertTrue(output.contains("sums agree"), output);
    }

    /** The child of {@link #opsOnViewsMadeForThemSurviveCollectionsDuringTheOp}: iterations as its argument. */
    public static final class ViewLoop {
        public static void main(String[] args) {
            DeferredDeallocation.install();
            int iterations = Integer.parseInt(args[0]);
            INDArray bias = Nd4j.rand(DataType.FLOAT, 6 * 128);
            INDArray out = Nd4j.zeros(DataType.FLOAT, 64, 128);
            Thread collector = new Thread(() -> {
                while (true) {
                    System.gc();
                    try { Thread.sleep(1); } catch (InterruptedException e) { return; }
                }
            });
            collector.setDaemon(true);
            collector.start();
            long start = System.currentTimeMillis();
            for (long i = 0; i < iterations; i++) {
                int j = (int) (i % 6);
                out.addiRowVector(bias.get(NDArrayIndex.interval(j * 128, (j + 1) * 128)));
                if (i % 20000 == 0) System.out.println(i + " iterations, " + (System.currentTimeMillis() - start) + " ms");
            }
            // column 0 of every row has had each chunk's first value added iterations / 6 times (float32 sums: loose check)
            double expected = 0;
            for (int j = 0; j < 6; j++) expected += bias.getDouble(j * 128L) * (iterations / 6);
            double got = out.getDouble(0, 0);
            if (Math.abs(got - expected) > 1e-2 * expected) throw new AssertionError("sum " + got + ", expected " + expected);
            System.out.println("sums agree after " + iterations + " iterations");
        }
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
        List<String> status = Files.readAllLines(Path.of("/proc/self/status"));
        String rss = status.stream().filter(l -> l.startsWith("VmRSS:")).findFirst().orElseThrow();
        return Long.parseLong(rss.replaceAll("\\D", "")) * 1024;
    }
}
