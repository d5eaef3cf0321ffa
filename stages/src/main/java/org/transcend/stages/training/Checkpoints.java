package org.transcend.stages.training;

import org.transcend.model.train.Checkpoint;
import org.transcend.stages.io.LocalCopies;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The periodic checkpoints of a one-worker training stage, kept in its (uncommitted) artifact directory as
 * {@code checkpoints/step-NNNNNNNNN.safetensors}: a rerun of the same key resumes from the newest.
 */
public final class Checkpoints {
    private Checkpoints() {}

    public static String path(String artifactDir, long step) {
        return artifactDir + "checkpoints/" + String.format("step-%09d.safetensors", step);
    }

    /** The paths of the checkpoints kept in the directory, oldest first. */
    public static List<String> all(String artifactDir) throws IOException {
        return LocalCopies.list(artifactDir + "checkpoints/step-*.safetensors");
    }

    public static Optional<Checkpoint> newest(String artifactDir) throws IOException {
        List<String> existing = all(artifactDir);
        if (existing.isEmpty()) return Optional.empty();
        return Optional.of(Checkpoint.load(LocalCopies.fetch(existing.get(existing.size() - 1))));
    }

    /** Writes a checkpoint to any Beam file system path (atomically on local disk). */
    public static void save(Checkpoint c, String path) throws IOException {
        Path local = LocalCopies.staging(path);
        c.save(local);
        LocalCopies.publish(local, path);
    }
}
