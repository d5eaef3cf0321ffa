package org.transcend.pipelines.config;

/** A configuration the user must fix: the message names the key, the value and what is accepted. */
public class ConfigException extends IllegalArgumentException {
    public ConfigException(String message) {
        super(message);
    }
}
