package org.transcend.tests;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * No leak of native buffers in training: a process training a tiny SiT (with its periodic checkpoints) has the
 * same resident memory, within 10%, after 1,000 steps as after 100. The heap is fixed and touched up front, so
 * the resident set can only grow through native memory.
 */
class TrainingMemoryTest {

    @TempDir
    Path tmp;

    @Test
    void residentMemoryAfter1000StepsIsWithinTenPercentOfItsValueAfter100() throws Exception {
        List<String> jvm = List.of("-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch", "-Dorg.bytedeco.javacpp.maxbytes=1g",
                "-Dorg.bytedeco.javacpp.maxphysicalbytes=2g");
        try (ChildJvm child = ChildJvm.start(TrainingMemoryProbe.class, jvm, List.of("1000", tmp.toString(), "100", "1000"))) {
            long[] at100 = parse(child.awaitLine(TrainingMemoryProbe.LINE + "100 ", Duration.ofMinutes(3)));
            long[] at1000 = parse(child.awaitLine(TrainingMemoryProbe.LINE + "1000 ", Duration.ofMinutes(5)));
            assertEquals(0, child.awaitExit(Duration.ofMinutes(1)));
            double ratio = at1000[0] / (double) at100[0];
            System.out.printf("resident after 100 steps %d MB, after 1000 steps %d MB (x%.3f)%n", at100[0] >> 20, at1000[0] >> 20, ratio);
            assertTrue(at100[0] > 0, "no resident-set reading (is /proc mounted?)");
            assertTrue(ratio <= 1.10, String.format("resident memory grew from %d MB after 100 steps to %d MB after 1000 (x%.3f)",
                    at100[0] >> 20, at1000[0] >> 20, ratio));
        }
    }

    private static long[] parse(String line) {
        String[] p = line.substring(TrainingMemoryProbe.LINE.length()).split(" ");
        return new long[]{Long.parseLong(p[1])};
    }
}
