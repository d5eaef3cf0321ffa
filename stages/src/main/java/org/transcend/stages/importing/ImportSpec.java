package org.transcend.stages.importing;

import java.io.Serializable;

/**
 * What to import: the source kind and location, the split, an optional subset size, and for image folders
 * the size and channel count every image is brought to.
 *
 * @param limit      keep only the first {@code limit} images (in source order); 0 keeps all
 * @param resolution image folders only: images are centre-cropped to a square and resized to this size
 * @param channels   image folders only: 1 (luminance) or 3 (RGB)
 */
public record ImportSpec(Source source, String path, String split, long limit, int shards, int resolution, int channels)
        implements Serializable {

    public enum Source { FASHION_MNIST, IMAGE_FOLDER, CIFAR10 }

    public ImportSpec {
        if (!split.equals("train") && !split.equals("test")) {
            throw new IllegalArgumentException("data.split is '" + split + "'; accepted: train, test");
        }
        if (limit < 0) throw new IllegalArgumentException("data.limit is " + limit + "; accepted: 0 (all) or a positive count");
        if (shards < 1) throw new IllegalArgumentException("data.shards is " + shards + "; accepted: 1 or more");
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("data.channels is " + channels + "; accepted: 1, 3");
        if (resolution < 1) throw new IllegalArgumentException("data.resolution is " + resolution + "; accepted: 1 or more");
    }

    /** Short dataset name used in record ids and reports. */
    public String datasetName() {
        return switch (source) {
            case FASHION_MNIST -> "fmnist";
            case CIFAR10 -> "cifar10";
            case IMAGE_FOLDER -> "folder";
        };
    }
}
