package org.transcend.pipelines.store;

/** The artifact store could not be read or written; the message names the path. */
public class StoreException extends RuntimeException {
    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
