package org.transcend.stages.evaluation;

import org.transcend.model.eval.DomainClassifier;
import org.transcend.model.eval.FeatureNetwork;
import org.transcend.model.eval.FidInception;
import org.transcend.model.eval.FidInceptionWeights;
import org.transcend.model.eval.PixelFeatures;
import org.transcend.stages.io.LocalCopies;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Which network turns images into the features a Fréchet distance compares, what the distance is called, and
 * where each worker loads the network from.
 *
 * @param weights  the weights file (inception, classifier), on any Beam file system; empty for pixels
 * @param key      what identifies the network's weights in reports: a file digest, an artifact key, the pixel shape
 * @param channels image channels (pixels only; 0 otherwise)
 * @param size     image side (pixels only; 0 otherwise)
 */
public record FeatureNetworkSpec(Kind kind, String weights, String key, int channels, int size, int dimension)
        implements Serializable {

    public enum Kind {
        /** pytorch-fid's FID-Inception: the distance is FID. */
        INCEPTION,
        /** A {@link DomainClassifier} trained on the dataset: FD-&lt;dataset&gt;-classifier. */
        CLASSIFIER,
        /** The pixels themselves: FD-pixels. */
        PIXELS
    }

    /** FID-Inception from a user's weights file; its key is the file's SHA-256. */
    public static FeatureNetworkSpec inception(String weights) throws IOException {
        return new FeatureNetworkSpec(Kind.INCEPTION, weights, "sha256:" + sha256(weights), 0, 0, FidInceptionWeights.FEATURES);
    }

    /** A domain classifier file written by {@link DomainClassifier#write}, known by the key of the artifact holding it. */
    public static FeatureNetworkSpec classifier(String weights, String key) throws IOException {
        int dimension = DomainClassifier.read(LocalCopies.fetch(weights)).featureDimension();
        return new FeatureNetworkSpec(Kind.CLASSIFIER, weights, key, 0, 0, dimension);
    }

    /** Raw pixels of {@code channels × size × size} images. */
    public static FeatureNetworkSpec pixels(int channels, int size) {
        int dimension = new PixelFeatures(channels, size, size).featureDimension();
        return new FeatureNetworkSpec(Kind.PIXELS, "", "pixels-" + channels + "x" + size + "x" + size, channels, size, dimension);
    }

    /** Loads the network; each worker calls it once, in its DoFn's setup. */
    public FeatureNetwork load() throws IOException {
        return switch (kind) {
            case INCEPTION -> FidInception.read(LocalCopies.fetch(weights));
            case CLASSIFIER -> DomainClassifier.read(LocalCopies.fetch(weights));
            case PIXELS -> new PixelFeatures(channels, size, size);
        };
    }

    /** The network's name in FeatureStats and EvalReport records. */
    public String networkName() {
        return switch (kind) {
            case INCEPTION -> "fid-inception";
            case CLASSIFIER -> "domain-classifier";
            case PIXELS -> "pixels";
        };
    }

    /** The distance's name: "FID" only for FID-Inception, so a domain distance is never mistaken for a published FID. */
    public String metric(String dataset) {
        return switch (kind) {
            case INCEPTION -> "FID";
            case CLASSIFIER -> "FD-" + dataset + "-classifier";
            case PIXELS -> "FD-pixels";
        };
    }

    private static String sha256(String path) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        try (InputStream in = Files.newInputStream(LocalCopies.fetch(path))) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) digest.update(buffer, 0, n);
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
