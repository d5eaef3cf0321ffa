package org.transcend.pipelines;

import org.apache.avro.Schema;

/**
 * What names a stage's artifacts: its name (also its directory in the store), its version (bumped whenever its code
 * changes its output, so old artifacts stop matching) and the Avro schema of the main records it writes (whose
 * fingerprint enters the key).
 */
public record StageIdentity(String name, int version, Schema outputSchema) {}
