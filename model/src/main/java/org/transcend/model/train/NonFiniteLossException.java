package org.transcend.model.train;

/** Training produced a NaN or infinite loss; the message names the step and the loss part. */
public class NonFiniteLossException extends IllegalStateException {
    public NonFiniteLossException(long step, String part, double value) {
        super("loss part '" + part + "' is " + value + " at step " + step + "; training stopped, the last good checkpoint is kept");
    }
}
