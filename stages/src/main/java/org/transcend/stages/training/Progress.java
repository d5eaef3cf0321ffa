package org.transcend.stages.training;

import org.transcend.model.train.StepReport;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a user sees of a training stage: a progress line every N steps (step, loss parts, images/s, ETA) and a
 * metrics JSONL file with one line per step.
 */
public final class Progress implements AutoCloseable {
    private static final Pattern STEP = Pattern.compile("^\\{\"step\":(\\d+),");
    private final String stage;
    private final long totalSteps;
    private final long every;
    private final PrintStream out;
    private final Path metricsFile;
    private Writer metrics;
    private final long started = System.nanoTime();
    private long firstStep = -1;
    private double imagesPerSecond;

    public Progress(String stage, long totalSteps, long every, PrintStream out, Path metricsFile) {
        this.stage = stage;
        this.totalSteps = totalSteps;
        this.every = Math.max(1, every);
        this.out = out;
        this.metricsFile = metricsFile;
    }

    /**
     * Opens the metrics file for the run's first reported step. Lines a killed attempt wrote past its last
     * checkpoint (and a line cut short by the kill) are dropped first, so a resumed run's file holds each step once.
     */
    private Writer openMetrics(long firstReported) {
        try {
            Files.createDirectories(metricsFile.toAbsolutePath().getParent());
            if (Files.exists(metricsFile)) {
                String text = Files.readString(metricsFile, StandardCharsets.UTF_8);
                StringBuilder kept = new StringBuilder();
                for (int from = 0, nl; (nl = text.indexOf('\n', from)) >= 0; from = nl + 1) {
                    String line = text.substring(from, nl);
                    Matcher m = STEP.matcher(line);
                    if (m.find() && Long.parseLong(m.group(1)) < firstReported) kept.append(line).append('\n');
                }
                Path tmp = metricsFile.resolveSibling(metricsFile.getFileName() + ".partial");
                Files.writeString(tmp, kept, StandardCharsets.UTF_8);
                Files.move(tmp, metricsFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
            return Files.newBufferedWriter(metricsFile, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open metrics file " + metricsFile, e);
        }
    }

    public void report(StepReport r) {
        if (firstStep < 0) firstStep = r.step() - 1;
        if (metrics == null) metrics = openMetrics(r.step());
        imagesPerSecond = imagesPerSecond == 0 ? r.imagesPerSecond() : 0.9 * imagesPerSecond + 0.1 * r.imagesPerSecond();
        StringBuilder json = new StringBuilder(String.format(Locale.ROOT, "{\"step\":%d,\"grad_norm\":%.6g,\"images_per_s\":%.3f",
                r.step(), r.gradientNorm(), r.imagesPerSecond()));
        for (Map.Entry<String, Double> e : r.losses().entrySet()) {
            json.append(String.format(Locale.ROOT, ",\"%s\":%.8g", e.getKey(), e.getValue()));
        }
        try {
            metrics.write(json.append("}\n").toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (r.step() % every == 0 || r.step() == totalSteps) {
            double elapsed = (System.nanoTime() - started) / 1e9;
            double perStep = elapsed / Math.max(1, r.step() - firstStep);
            long etaSeconds = Math.round(perStep * (totalSteps - r.step()));
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "[%s] step %d/%d", stage, r.step(), totalSteps));
            r.losses().forEach((k, v) -> line.append(String.format(Locale.ROOT, "  %s %.4f", k, v)));
            line.append(String.format(Locale.ROOT, "  %.1f img/s  ETA %dm%02ds", imagesPerSecond, etaSeconds / 60, etaSeconds % 60));
            out.println(line);
        }
    }

    public void flush() {
        if (metrics == null) return;
        try {
            metrics.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        if (metrics == null) return;
        try {
            metrics.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
