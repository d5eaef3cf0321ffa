package org.transcend.tests;

import org.junit.jupiter.api.Test;
import org.transcend.model.train.SiTTrainer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The launcher preloads Debian's OpenMP build of OpenBLAS in place of ND4J's bundled one (see the {@code transcend}
 * script). A JVM so started must train as one on the bundled library does, and must still see its child processes end:
 * the library's thread-local storage overflowed the JVM's process-reaper stack until the launcher gave it the default size.
 */
class OpenMpBlasTest {

    static final Path LIBRARY = Path.of("/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0");
    static final String REAPER_STACK = "-Djdk.lang.processReaperUseDefaultStackSize=true";

    @Test
    void theLauncherPreloadsTheLibraryWithTheReapersDefaultStack() throws IOException {
        String launcher = Files.readString(Path.of("..", "transcend"), StandardCharsets.UTF_8);
        assertTrue(launcher.contains("openmp_blas=" + LIBRARY), "the launcher preloads " + LIBRARY);
        assertTrue(launcher.contains("blas_opts=\"" + REAPER_STACK + "\""), "the launcher starts the JVM with " + REAPER_STACK);
    }

    @Test
    void aJvmWithTheLibraryPreloadedTrainsAsWithTheBundledOneAndReapsItsChildren() throws Exception {
        assumeTrue(Files.exists(LIBRARY), LIBRARY + " is not installed (apt-get install libopenblas0-openmp)");
        List<Double> bundled = losses(run(false)), preloaded = losses(run(true));
        assertEquals(bundled.size(), preloaded.size());
        for (int i = 0; i < bundled.size(); i++) {
            // another OpenBLAS rounds its products otherwise: equal to float precision, not bit for bit
            assertEquals(bundled.get(i), preloaded.get(i), 1e-4 * Math.abs(bundled.get(i)), "loss at step " + (i + 1));
        }
    }

    private static String run(boolean preload) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(ChildJvm.SMALL);
        if (preload) cmd.add(REAPER_STACK);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Probe.class.getName()));
        ProcessBuilder builder = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (preload) builder.environment().put("LD_PRELOAD", LIBRARY.toString());
        Process p = builder.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "the probe did not end:\n" + output);
        assertEquals(0, p.exitValue(), "the probe failed:\n" + output);
        assertTrue(output.contains("child process ended: 0"), output);
        return output;
    }

    private static List<Double> losses(String output) {
        List<Double> losses = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^loss (\\S+)$").matcher(output);
        while (m.find()) losses.add(Double.parseDouble(m.group(1)));
        assertEquals(5, losses.size(), output);
        return losses;
    }

    /** The child JVM: five steps of a tiny SiT, each loss printed, then a child process of its own waited for. */
    public static final class Probe {
        public static void main(String[] args) throws Exception {
            SiTTrainer trainer = TrainingMemoryProbe.tinyWarmup(5);
            for (int i = 0; i < 5; i++) System.out.println("loss " + trainer.step().losses().get(SiTTrainer.LOSS));
            Process child = new ProcessBuilder("true").start();
            if (!child.waitFor(30, TimeUnit.SECONDS)) throw new IllegalStateException("the child process was never seen to end");
            System.out.println("child process ended: " + child.exitValue());
            System.exit(0);
        }
    }
}
