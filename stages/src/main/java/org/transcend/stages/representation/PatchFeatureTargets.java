package org.transcend.stages.representation;

import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificDatumReader;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.schemas.PatchFeatures;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Tensors;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A repa-targets or reg-targets artifact read back for training: the features in the order of the training latents. */
public final class PatchFeatureTargets {
    private PatchFeatureTargets() {}

    public static final String RECORDS = "patch-features";

    /** [tokens, dim] of the artifact's features, from its first record. */
    public static long[] shape(String artifactDir) throws IOException {
        for (String f : LocalCopies.list(Handoffs.pattern(artifactDir, RECORDS))) {
            try (DataFileReader<PatchFeatures> r = new DataFileReader<>(LocalCopies.fetch(f).toFile(), new SpecificDatumReader<>(PatchFeatures.class))) {
                if (r.hasNext()) return Tensors.shape(r.next().getFeatures());
            }
        }
        throw new IllegalStateException("no patch features in " + Handoffs.pattern(artifactDir, RECORDS));
    }

    /**
     * The features [examples, tokens, dim] with row i for {@code ids.get(i)}; an id without features, or features holding a
     * NaN or an infinity, is an error naming the image (here, where the targets enter training).
     */
    public static INDArray inOrder(String artifactDir, List<String> ids) throws IOException {
        Map<String, PatchFeatures> byId = new HashMap<>();
        for (PatchFeatures p : Handoffs.readAll(artifactDir, RECORDS, PatchFeatures.class)) byId.put(p.getId(), p);
        long[] shape = shape(artifactDir);
        INDArray out = Nd4j.create(DataType.FLOAT, ids.size(), shape[0], shape[1]);
        for (int i = 0; i < ids.size(); i++) {
            PatchFeatures p = byId.get(ids.get(i));
            if (p == null) {
                throw new IllegalStateException("the per-image targets " + artifactDir + " have no features for latent '" + ids.get(i)
                        + "'; they were made for other images");
            }
            String image = ids.get(i);
            out.slice(i).assign(Tensors.decodeFinite(p.getFeatures(), () -> "the target features of image '" + image + "' in " + artifactDir)
                    .reshape(shape[0], shape[1]));
        }
        return out;
    }
}
