package org.transcend.stages.evaluation;

import org.apache.beam.sdk.coders.AtomicCoder;
import org.apache.beam.sdk.coders.Coder;
import org.apache.beam.sdk.coders.CoderRegistry;
import org.apache.beam.sdk.transforms.Combine;
import org.apache.beam.sdk.util.VarInt;
import org.transcend.model.eval.FeatureMoments;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Combines feature rows into their float64 {@link FeatureMoments}: each batch is added with its own centring and
 * partial moments merge pairwise, so the result is the same (to rounding) however the runner shards the rows.
 */
public final class AccumulateMoments extends Combine.CombineFn<FeatureRows, FeatureMoments, FeatureMoments> {

    private final int dimension;

    public AccumulateMoments(int dimension) {
        if (dimension < 1) throw new IllegalArgumentException("feature dimension must be at least 1, got " + dimension);
        this.dimension = dimension;
    }

    @Override
    public FeatureMoments createAccumulator() {
        return new FeatureMoments(dimension);
    }

    @Override
    public FeatureMoments addInput(FeatureMoments moments, FeatureRows rows) {
        if (rows.dimension() != dimension) {
            throw new IllegalArgumentException("feature rows of dimension " + rows.dimension() + " reached moments of dimension "
                    + dimension + "; every image must go through the same feature network");
        }
        return moments.add(rows.values(), rows.count());
    }

    @Override
    public FeatureMoments mergeAccumulators(Iterable<FeatureMoments> accumulators) {
        FeatureMoments merged = new FeatureMoments(dimension);
        for (FeatureMoments m : accumulators) merged.merge(m);
        return merged;
    }

    @Override
    public FeatureMoments extractOutput(FeatureMoments moments) {
        return moments;
    }

    @Override
    public Coder<FeatureMoments> getAccumulatorCoder(CoderRegistry registry, Coder<FeatureRows> inputCoder) {
        return MomentsCoder.INSTANCE;
    }

    @Override
    public Coder<FeatureMoments> getDefaultOutputCoder(CoderRegistry registry, Coder<FeatureRows> inputCoder) {
        return MomentsCoder.INSTANCE;
    }

    /** Count, mean and scatter as big-endian doubles: the exact state, so an encoded accumulator merges as the original. */
    public static final class MomentsCoder extends AtomicCoder<FeatureMoments> {
        public static final MomentsCoder INSTANCE = new MomentsCoder();

        private MomentsCoder() {}

        @Override
        public void encode(FeatureMoments m, OutputStream out) throws IOException {
            VarInt.encode(m.dimension(), out);
            VarInt.encode(m.count(), out);
            DataOutputStream data = new DataOutputStream(out);
            for (double v : m.mean()) data.writeDouble(v);
            for (double v : m.scatter()) data.writeDouble(v);
            data.flush();
        }

        @Override
        public FeatureMoments decode(InputStream in) throws IOException {
            int d = VarInt.decodeInt(in);
            long count = VarInt.decodeLong(in);
            DataInputStream data = new DataInputStream(in);
            double[] mean = new double[d];
            double[] scatter = new double[Math.multiplyExact(d, d)];
            for (int i = 0; i < d; i++) mean[i] = data.readDouble();
            for (int i = 0; i < scatter.length; i++) scatter[i] = data.readDouble();
            return new FeatureMoments(count, mean, scatter);
        }
    }
}
