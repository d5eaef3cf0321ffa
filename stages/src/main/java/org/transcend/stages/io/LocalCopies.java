package org.transcend.stages.io;

import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.MatchResult;
import org.apache.beam.sdk.io.fs.ResourceId;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Moves files between an artifact directory on any Beam file system and the worker's local disk, for the
 * libraries (safetensors, ImageIO) that need a local file. A local artifact directory is used in place.
 */
public final class LocalCopies {
    private LocalCopies() {}

    public static boolean isLocal(String path) {
        return !path.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*") || path.startsWith("file:");
    }

    /** A local path holding the file's bytes: the file itself when local, otherwise a temporary copy. */
    public static Path fetch(String path) throws IOException {
        if (isLocal(path)) return Path.of(path.startsWith("file:") ? java.net.URI.create(path).getPath() : path);
        Path tmp = Files.createTempFile("transcend-", "-" + FileSystems.matchNewResource(path, false).getFilename());
        try (InputStream in = Channels.newInputStream(FileSystems.open(FileSystems.matchSingleFileSpec(path).resourceId()))) {
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        return tmp;
    }

    /** Where to write a file that will end up at {@code path}: the path itself when local (parents created), else a temporary file. */
    public static Path staging(String path) throws IOException {
        if (isLocal(path)) {
            Path p = fetch(path);
            Files.createDirectories(p.toAbsolutePath().getParent());
            return p;
        }
        return Files.createTempFile("transcend-", ".staging");
    }

    /** Publishes a file written at {@link #staging(String)}: a no-op locally, an upload otherwise. */
    public static void publish(Path staged, String path) throws IOException {
        if (isLocal(path)) return;
        ResourceId target = FileSystems.matchNewResource(path, false);
        try (OutputStream out = Channels.newOutputStream(FileSystems.create(target, "application/octet-stream"))) {
            Files.copy(staged, out);
        }
        Files.deleteIfExists(staged);
    }

    /** Writes a local file. */
    @FunctionalInterface
    public interface FileWriter {
        void write(Path file) throws IOException;
    }

    /**
     * Writes the file at {@code path} whole: locally into a uniquely named partial sibling renamed into place, on
     * other file systems into a temporary file uploaded in one go. Two attempts writing the same file (a retried
     * bundle beside its first try) never interleave their bytes, and a reader sees the old file or the new one.
     */
    public static void writeWhole(String path, FileWriter writer) throws IOException {
        if (!isLocal(path)) {
            Path tmp = staging(path);
            writer.write(tmp);
            publish(tmp, path);
            return;
        }
        Path target = fetch(path);
        Files.createDirectories(target.toAbsolutePath().getParent());
        Path partial = target.resolveSibling("." + target.getFileName() + ".partial-" + java.util.UUID.randomUUID());
        try {
            writer.write(partial);
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
    }

    /** Files matching a glob, sorted by name; none when nothing matches. */
    public static List<String> list(String glob) throws IOException {
        List<String> out = new ArrayList<>();
        MatchResult r = FileSystems.match(glob);
        if (r.status() == MatchResult.Status.OK) for (MatchResult.Metadata m : r.metadata()) out.add(m.resourceId().toString());
        out.sort(null);
        return out;
    }
}
