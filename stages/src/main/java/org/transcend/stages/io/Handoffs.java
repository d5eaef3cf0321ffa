package org.transcend.stages.io;

import org.apache.avro.specific.SpecificRecord;
import org.apache.beam.sdk.extensions.avro.io.AvroIO;
import org.apache.beam.sdk.values.PBegin;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PDone;

/**
 * How stages hand records to each other: Avro container files named {@code <name>-SSSSS-of-NNNNN.avro} inside
 * an artifact directory. Fixed shard names mean a retried write replaces the same files rather than adding new ones.
 */
public final class Handoffs {
    private Handoffs() {}

    public static <T extends SpecificRecord> PDone write(PCollection<T> records, Class<T> type, String dir, String name, int shards) {
        return records.apply("Write " + name, AvroIO.write(type).to(dir + name).withSuffix(".avro").withNumShards(shards));
    }

    public static <T extends SpecificRecord> PCollection<T> read(PBegin begin, Class<T> type, String dir, String name) {
        return begin.apply("Read " + name, AvroIO.read(type).from(pattern(dir, name)));
    }

    /** Reads every record of a small handoff outside a pipeline (e.g. a stage's single metadata record). */
    public static <T extends SpecificRecord> java.util.List<T> readAll(String dir, String name, Class<T> type) throws java.io.IOException {
        java.util.List<T> out = new java.util.ArrayList<>();
        for (String f : LocalCopies.list(pattern(dir, name))) {
            try (org.apache.avro.file.DataFileReader<T> r = new org.apache.avro.file.DataFileReader<>(LocalCopies.fetch(f).toFile(),
                    new org.apache.avro.specific.SpecificDatumReader<>(type))) {
                r.forEach(out::add);
            }
        }
        return out;
    }

    /**
     * The first record of a handoff (in file-name order), read without decoding the rest, for a stage that needs one
     * record's shape; the error names the files looked for when there is none.
     */
    public static <T extends SpecificRecord> T first(String dir, String name, Class<T> type) {
        try {
            for (String f : LocalCopies.list(pattern(dir, name))) {
                try (org.apache.avro.file.DataFileReader<T> r = new org.apache.avro.file.DataFileReader<>(LocalCopies.fetch(f).toFile(),
                        new org.apache.avro.specific.SpecificDatumReader<>(type))) {
                    if (r.hasNext()) return r.next();
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("could not read " + pattern(dir, name), e);
        }
        throw new IllegalStateException("no " + type.getSimpleName() + " records in " + pattern(dir, name));
    }

    public static String pattern(String dir, String name) {
        return dir + name + "-*.avro";
    }
}
