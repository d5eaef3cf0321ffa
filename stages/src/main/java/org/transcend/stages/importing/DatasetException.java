package org.transcend.stages.importing;

/** A dataset file that cannot be imported at all; the message names the file and what was expected. */
public class DatasetException extends IllegalArgumentException {
    public DatasetException(String message) {
        super(message);
    }
}
