package org.transcend.stages.representation;

import org.transcend.stages.io.LocalCopies;
import org.transcend.stages.io.Npz;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * REPA's targets as the user supplies them: an {@code .npz} with {@code ids} [N] (text, the imported images' ids) and
 * {@code features} [N, T, Dz] (float32 or float64), T per-patch features of each clean image in row-major order over
 * the patch grid. Checked on opening: one row per id, no id twice, three axes.
 */
public final class PatchFeatureFile {

    public static final String IDS = "ids";
    public static final String FEATURES = "features";

    private final String path;
    private final Map<String, Integer> rows;
    private final long[] shape;
    private final Npz.Array features;

    private PatchFeatureFile(String path, Map<String, Integer> rows, long[] shape, Npz.Array features) {
        this.path = path;
        this.rows = rows;
        this.shape = shape;
        this.features = features;
        if (rows.size() != shape[0]) {
            throw new IllegalArgumentException(path + ": '" + IDS + "' has " + rows.size() + " entries but '" + FEATURES + "' has "
                    + shape[0] + " rows; accepted: one row per id");
        }
    }

    /** The ids and the features' shape, without reading the features (for checks before a pipeline runs). */
    public static PatchFeatureFile header(String path) throws IOException {
        Path local = LocalCopies.fetch(path);
        return new PatchFeatureFile(path, index(path, Npz.readStrings(local, IDS)), checkedShape(path, local), null);
    }

    /** The whole file, features included. */
    public static PatchFeatureFile read(String path) throws IOException {
        Path local = LocalCopies.fetch(path);
        long[] shape = checkedShape(path, local);
        Npz.Array features = Npz.read(local, FEATURES).get(FEATURES);
        if (features.dtype() != Npz.Dtype.FLOAT32 && features.dtype() != Npz.Dtype.FLOAT64) {
            throw new IllegalArgumentException(path + ": '" + FEATURES + "' has dtype " + features.dtype().descr
                    + "; accepted: <f4 (float32) or <f8 (float64)");
        }
        return new PatchFeatureFile(path, index(path, Npz.readStrings(local, IDS)), shape, features);
    }

    private static long[] checkedShape(String path, Path local) throws IOException {
        long[] shape = Npz.shape(local, FEATURES).orElseThrow(() -> new IllegalArgumentException(path
                + " has no array '" + FEATURES + "'; a REPA feature file holds '" + IDS + "' [N] and '" + FEATURES + "' [N, T, Dz]"));
        if (shape.length != 3 || shape[1] < 1 || shape[2] < 1) {
            throw new IllegalArgumentException(path + ": '" + FEATURES + "' has shape " + Arrays.toString(shape)
                    + "; accepted: [N, T, Dz] (images, patch tokens, feature width)");
        }
        return shape;
    }

    private static Map<String, Integer> index(String path, List<String> ids) {
        Map<String, Integer> rows = new HashMap<>();
        for (int i = 0; i < ids.size(); i++) {
            Integer earlier = rows.put(ids.get(i), i);
            if (earlier != null) {
                throw new IllegalArgumentException(path + ": id '" + ids.get(i) + "' appears twice (rows " + earlier + " and " + i
                        + "); accepted: each image once");
            }
        }
        return rows;
    }

    public String path() {
        return path;
    }

    public long size() {
        return shape[0];
    }

    /** T, the features per image. */
    public int tokens() {
        return (int) shape[1];
    }

    /** Dz, the width of one feature. */
    public int dim() {
        return (int) shape[2];
    }

    public boolean contains(String id) {
        return rows.containsKey(id);
    }

    /** Some ids of the file, to show in an error about a missing one. */
    public List<String> exampleIds() {
        return rows.keySet().stream().sorted().limit(3).toList();
    }

    /** The features of image {@code id}, [T·Dz] in row-major order, or empty when the file has no row for it. */
    public Optional<float[]> row(String id) {
        Integer r = rows.get(id);
        if (r == null) return Optional.empty();
        if (features == null) throw new IllegalStateException(path + " was opened for its header only");
        int per = tokens() * dim(), width = features.dtype().width;
        ByteBuffer b = ByteBuffer.wrap(features.data(), r * per * width, per * width).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[per];
        for (int i = 0; i < per; i++) out[i] = features.dtype() == Npz.Dtype.FLOAT32 ? b.getFloat() : (float) b.getDouble();
        return Optional.of(out);
    }
}
