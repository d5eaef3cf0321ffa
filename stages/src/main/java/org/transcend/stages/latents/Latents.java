package org.transcend.stages.latents;

import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.train.LatentData;
import org.transcend.schemas.LatentRecord;
import org.transcend.schemas.LatentStats;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Tensors;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Comparator;
import java.util.List;

/** Loads an encode-latents artifact into memory for training: records sorted by id, so the order is deterministic. */
public final class Latents {
    private Latents() {}

    public static final String RECORDS = "latents";
    public static final String STATS = "latent-stats.json";

    /** The latent grid [C, H, W] and the number of classes (largest label + 1), without decoding any tensor. */
    public record Shape(int channels, int size, int numClasses) {}

    /** The posteriors with the artifact's latent scale and shift. */
    public static LatentData load(String artifactDir) throws IOException {
        LatentData raw = posteriors(artifactDir);
        LatentStats stats = stats(artifactDir);
        return new LatentData(raw.mean(), raw.std(), raw.labels(), stats.getScale(), stats.getShift());
    }

    /**
     * The posteriors alone, with scale 1 and shift 0 (what the statistics are computed from). A record holding a NaN
     * or an infinity is refused here, where the latents enter training, naming the record.
     */
    public static LatentData posteriors(String artifactDir) throws IOException {
        List<LatentRecord> records = records(artifactDir);
        long[] shape = Tensors.shape(records.get(0).getMean());
        int n = records.size(), per = Math.toIntExact(shape[0] * shape[1] * shape[2]);
        float[] mean = new float[n * per], std = new float[n * per];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            LatentRecord r = records.get(i);
            String record = "latent record '" + r.getId() + "' of " + artifactDir;
            System.arraycopy(Tensors.decodeFinite(r.getMean(), () -> "the posterior mean of " + record)
                    .castTo(DataType.FLOAT).reshape(per).toFloatVector(), 0, mean, i * per, per);
            System.arraycopy(Tensors.decodeFinite(r.getStd(), () -> "the posterior std of " + record)
                    .castTo(DataType.FLOAT).reshape(per).toFloatVector(), 0, std, i * per, per);
            labels[i] = r.getLabel();
        }
        long[] full = {n, shape[0], shape[1], shape[2]};
        INDArray m = Nd4j.create(mean, full, 'c'), s = Nd4j.create(std, full, 'c');
        return new LatentData(m, s, labels, 1.0, 0.0);
    }

    /** The ids of the latents, in the order of {@link #load} (example i of the training data is ids().get(i)). */
    public static List<String> ids(String artifactDir) throws IOException {
        return records(artifactDir).stream().map(r -> r.getId().toString()).toList();
    }

    public static Shape shape(String artifactDir) throws IOException {
        List<LatentRecord> records = records(artifactDir);
        long[] s = Tensors.shape(records.get(0).getMean());
        int classes = records.stream().mapToInt(LatentRecord::getLabel).max().orElse(-1) + 1;
        return new Shape((int) s[0], (int) s[1], classes);
    }

    private static List<LatentRecord> records(String artifactDir) throws IOException {
        List<LatentRecord> records = Handoffs.readAll(artifactDir, RECORDS, LatentRecord.class);
        if (records.isEmpty()) throw new IllegalStateException("no latent records in " + artifactDir);
        records.sort(Comparator.comparing(LatentRecord::getId));
        return records;
    }

    public static LatentStats stats(String artifactDir) throws IOException {
        String json = Files.readString(LocalCopies.fetch(artifactDir + STATS), StandardCharsets.UTF_8);
        return new SpecificDatumReader<>(LatentStats.class).read(null,
                DecoderFactory.get().jsonDecoder(LatentStats.getClassSchema(), json));
    }
}
