package org.transcend.tests;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A real second JVM on the test classpath, whose output the test reads line by line: what the kill and memory
 * tests run their stage in, so that a SIGKILL or a resident-memory reading concerns that process alone.
 */
final class ChildJvm implements AutoCloseable {

    /** Heap and JavaCPP limits small enough for two test JVMs side by side on a 2-core, 24 GB machine. */
    static final List<String> SMALL = List.of("-Xmx1g", "-Dorg.bytedeco.javacpp.maxbytes=2g",
            "-Dorg.bytedeco.javacpp.maxphysicalbytes=3g");

    private final Process process;
    private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> all = java.util.Collections.synchronizedList(new ArrayList<>());
    private final Thread reader;

    private ChildJvm(Process process) {
        this.process = process;
        this.reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    all.add(line);
                    lines.add(line);
                }
            } catch (IOException e) {
                // the process was killed: its output simply ends
            }
        }, "child-jvm-output");
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts {@code main} of {@code mainClass} with the JVM options and arguments; stderr goes with stdout. */
    static ChildJvm start(Class<?> mainClass, List<String> jvmOptions, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass.getName());
        cmd.addAll(args);
        return new ChildJvm(new ProcessBuilder(cmd).redirectErrorStream(true).start());
    }

    /** Waits for the first line starting with {@code prefix}; fails with the output so far if none comes in time. */
    String awaitLine(String prefix, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            String line = left > 0 ? lines.poll(Math.min(left, 200_000_000L), TimeUnit.NANOSECONDS) : null;
            if (line != null && line.startsWith(prefix)) return line;
            if (line == null && (left <= 0 || !process.isAlive() && lines.isEmpty() && !reader.isAlive())) {
                throw new AssertionError("no line starting with '" + prefix + "' from the child (alive: " + process.isAlive()
                        + ");\noutput:\n" + output());
            }
        }
    }

    /** SIGKILL (on Linux {@link Process#destroyForcibly} sends signal 9): no shutdown hook, no finally block runs. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** Waits for a normal exit and returns the exit code. */
    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the child did not finish within " + timeout + ";\noutput:\n" + output());
        }
        reader.join(10_000);
        return process.exitValue();
    }

    long pid() {
        return process.pid();
    }

    String output() {
        synchronized (all) {
            return String.join("\n", all);
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) kill();
    }
}
