package org.transcend.model.io;

import java.nio.file.Path;

/** A weights file that cannot be trusted: the message names the file and what was wrong in it. */
public class WeightsFileException extends IllegalArgumentException {
    public WeightsFileException(Path file, String problem) {
        super(file + ": " + problem);
    }
}
