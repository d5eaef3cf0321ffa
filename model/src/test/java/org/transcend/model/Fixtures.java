package org.transcend.model;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the PyTorch reference outputs live: ../shared/fixtures beside the project root. */
public final class Fixtures {
    private Fixtures() {}

    public static Path file(String name) {
        String configured = System.getProperty("transcend.fixtures");
        Path dir = configured != null ? Path.of(configured) : Path.of("..", "..", "shared", "fixtures");
        Path p = dir.resolve(name).normalize();
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("fixture " + name + " not found at " + p.toAbsolutePath()
                    + " (set -Dtranscend.fixtures=DIR or check out shared/ beside the project)");
        }
        return p;
    }
}
