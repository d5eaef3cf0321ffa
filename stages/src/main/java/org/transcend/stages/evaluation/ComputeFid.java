package org.transcend.stages.evaluation;

import org.apache.beam.sdk.extensions.avro.coders.AvroCoder;
import org.apache.beam.sdk.transforms.Combine;
import org.apache.beam.sdk.transforms.MapElements;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.TypeDescriptor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.eval.FeatureMoments;
import org.transcend.model.eval.FrechetDistance;
import org.transcend.schemas.DType;
import org.transcend.schemas.FeatureStats;
import org.transcend.schemas.Tensor;
import org.transcend.stages.io.Npz;
import org.transcend.stages.io.Tensors;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The ComputeFid stage: the feature statistics of a set of images (features in parallel, moments combined in
 * float64), and the Fréchet distance between two such statistics. An empty set of images yields no statistics
 * (rather than a default), and fewer than two images fail: a covariance needs two.
 */
public final class ComputeFid extends PTransform<PCollection<Tensor>, PCollection<FeatureStats>> {

    private final FeatureNetworkSpec spec;
    private final int batchSize;

    public ComputeFid(FeatureNetworkSpec spec, int batchSize) {
        this.spec = spec;
        this.batchSize = batchSize;
    }

    @Override
    public PCollection<FeatureStats> expand(PCollection<Tensor> pixels) {
        FeatureNetworkSpec s = spec;
        return pixels.apply(new ExtractFeatures(spec, batchSize))
                .apply("Feature moments", Combine.globally(new AccumulateMoments(spec.dimension())).withoutDefaults())
                .apply("Statistics", MapElements.into(TypeDescriptor.of(FeatureStats.class)).via(m -> stats(m, s)))
                .setCoder(AvroCoder.of(FeatureStats.class));
    }

    /** The mean and unbiased covariance of the moments, as float64 tensors [d] and [d, d]. */
    public static FeatureStats stats(FeatureMoments moments, FeatureNetworkSpec spec) {
        if (moments.count() < 2) {
            throw new IllegalArgumentException("statistics need at least 2 images, got " + moments.count());
        }
        int d = moments.dimension();
        return new FeatureStats(spec.networkName(), spec.key(), moments.count(),
                Tensors.encode(Nd4j.createFromArray(moments.mean()), DType.FLOAT64),
                Tensors.encode(Nd4j.createFromArray(moments.covariance()).reshape(d, d), DType.FLOAT64));
    }

    /** The Fréchet distance between two statistics of the same feature network. */
    public static double distance(FeatureStats a, FeatureStats b) {
        if (!a.getFeatureNetwork().toString().equals(b.getFeatureNetwork().toString())) {
            throw new IllegalArgumentException("statistics of " + a.getFeatureNetwork() + " and of " + b.getFeatureNetwork()
                    + " features cannot be compared; both must come from one feature network");
        }
        return FrechetDistance.distance(mean(a), covariance(a), mean(b), covariance(b));
    }

    public static double[] mean(FeatureStats s) {
        return Tensors.decode(s.getMu()).castTo(DataType.DOUBLE).toDoubleVector();
    }

    /** The covariance, row-major. */
    public static double[] covariance(FeatureStats s) {
        return Tensors.decode(s.getSigma()).castTo(DataType.DOUBLE).dup('c').data().asDouble();
    }

    /** The statistics in ADM's reference-batch layout: {@code mu} float64 [d] and {@code sigma} float64 [d, d]. */
    public static Map<String, Npz.Array> toNpz(FeatureStats s) {
        int d = mean(s).length;
        Map<String, Npz.Array> m = new LinkedHashMap<>();
        m.put("mu", Npz.Array.float64(mean(s), d));
        m.put("sigma", Npz.Array.float64(covariance(s), d, d));
        return m;
    }

    /**
     * Statistics from an ADM-style npz ({@code mu} [d], {@code sigma} [d, d]), attributed to {@code spec}'s network;
     * their image count is not in the file and reads as 0.
     */
    public static FeatureStats fromNpz(Map<String, Npz.Array> npz, FeatureNetworkSpec spec, String source) {
        Npz.Array mu = npz.get("mu"), sigma = npz.get("sigma");
        if (mu == null || sigma == null || mu.shape().length != 1 || sigma.shape().length != 2
                || sigma.shape()[0] != mu.shape()[0] || sigma.shape()[1] != mu.shape()[0]) {
            throw new IllegalArgumentException(source + " must hold mu [d] and sigma [d, d]; it holds "
                    + npz.entrySet().stream().map(e -> e.getKey() + Arrays.toString(e.getValue().shape())).toList());
        }
        int d = (int) mu.shape()[0];
        if (d != spec.dimension()) {
            throw new IllegalArgumentException(source + " holds statistics of " + d + "-d features, but " + spec.networkName()
                    + " gives " + spec.dimension() + "-d features; give reference statistics of the same network (eval.features)");
        }
        return new FeatureStats(spec.networkName(), spec.key(), 0L,
                Tensors.encode(Nd4j.create(mu.asDoubles(), new long[]{d}, DataType.DOUBLE), DType.FLOAT64),
                Tensors.encode(Nd4j.create(sigma.asDoubles(), new long[]{d, d}, DataType.DOUBLE), DType.FLOAT64));
    }
}
