package org.transcend.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Named points of a run where a test can freeze the process to kill it exactly there (the kill-anywhere resume
 * test). Inert unless the system property {@value #PROPERTY} is {@code NAME} or {@code NAME#N}: then the N-th
 * time (default the first) this process reaches point NAME it prints {@code PAUSED AT NAME#N} on stdout and
 * sleeps until it is killed, or, when the system property {@value #RELEASE} names a file, until that file exists
 * (so a test can hold one run inside a commit while another starts). The points: {@code train-step} (inside an
 * optimisation step, the weights updated but not yet the EMA), {@code weights-write} (a safetensors file half
 * written) and {@code manifest-commit} (an artifact's data complete, its manifest not yet in place).
 */
public final class PausePoint {

    public static final String PROPERTY = "transcend.pause-at";
    public static final String RELEASE = "transcend.pause-release";
    public static final String MARKER = "PAUSED AT ";

    private static final Map<String, AtomicInteger> REACHED = new ConcurrentHashMap<>();

    private PausePoint() {}

    public static void reach(String point) {
        String wanted = System.getProperty(PROPERTY);
        if (wanted == null || !wanted.startsWith(point)) return;
        int hash = wanted.indexOf('#');
        String name = hash < 0 ? wanted : wanted.substring(0, hash);
        if (!name.equals(point)) return;
        int nth = hash < 0 ? 1 : Integer.parseInt(wanted.substring(hash + 1));
        if (REACHED.computeIfAbsent(point, p -> new AtomicInteger()).incrementAndGet() != nth) return;
        System.out.println(MARKER + point + "#" + nth);
        System.out.flush();
        String release = System.getProperty(RELEASE);
        while (release == null || !Files.exists(Path.of(release))) {
            try {
                Thread.sleep(release == null ? Long.MAX_VALUE : 50);
            } catch (InterruptedException e) {
                // Only a kill or the release file ends the pause: the test must find the process exactly here.
            }
        }
    }
}
