package org.transcend.stages.teacher;

import org.apache.avro.file.DataFileWriter;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.GroupByKey;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.WithKeys;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.TypeDescriptors;
import org.transcend.schemas.TeacherTarget;
import org.transcend.stages.io.LocalCopies;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Writes teacher targets as shards in plan order, {@code targets-SSSSSS.avro} holding steps
 * [S·stepsPerShard, (S+1)·stepsPerShard) sorted by (step, slot), so the trainer streams them one shard at a time.
 * A shard's name and bytes depend only on its number and targets, and it is written whole and renamed into place,
 * so a retried bundle rewrites the same file, even beside its first attempt.
 */
public final class CacheTeacherTargets extends PTransform<PCollection<TeacherTarget>, PCollection<String>> {

    private final String outputDir;
    private final long stepsPerShard;

    public CacheTeacherTargets(String outputDir, long stepsPerShard) {
        this.outputDir = outputDir;
        this.stepsPerShard = stepsPerShard;
    }

    public static String shardFile(String dir, long shard) {
        return dir + String.format("targets-%06d.avro", shard);
    }

    /**
     * The 16-byte block marker of a shard's Avro file, derived from its number rather than drawn at random, so a
     * retried write of the shard produces the same bytes.
     */
    static byte[] syncMarker(long shard) {
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(("teacher-targets shard " + shard).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.Arrays.copyOf(digest, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public PCollection<String> expand(PCollection<TeacherTarget> targets) {
        long per = stepsPerShard;
        return targets
                .apply("Key by shard", WithKeys.of((TeacherTarget t) -> t.getStep() / per).withKeyType(TypeDescriptors.longs()))
                .apply("Gather shards", GroupByKey.create())
                .apply("Write shards in plan order", ParDo.of(new WriteShard(outputDir)));
    }

    static final class WriteShard extends DoFn<KV<Long, Iterable<TeacherTarget>>, String> {
        private final String dir;
        private final Counter shards = Metrics.counter(ExtractGuidedFeatures.NAMESPACE, "shards");

        WriteShard(String dir) {
            this.dir = dir;
        }

        @ProcessElement
        public void process(@Element KV<Long, Iterable<TeacherTarget>> shard, OutputReceiver<String> out) throws Exception {
            List<TeacherTarget> sorted = new ArrayList<>();
            shard.getValue().forEach(sorted::add);
            sorted.sort(Comparator.comparingLong(TeacherTarget::getStep).thenComparingInt(TeacherTarget::getSlot));
            String file = shardFile(dir, shard.getKey());
            LocalCopies.writeWhole(file, local -> {
                try (DataFileWriter<TeacherTarget> w = new DataFileWriter<>(new SpecificDatumWriter<>(TeacherTarget.class))) {
                    w.create(TeacherTarget.getClassSchema(), java.nio.file.Files.newOutputStream(local), syncMarker(shard.getKey()));
                    for (TeacherTarget t : sorted) w.append(t);
                }
            });
            shards.inc();
            out.output(file);
        }
    }
}
