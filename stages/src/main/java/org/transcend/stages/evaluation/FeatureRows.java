package org.transcend.stages.evaluation;

import org.apache.beam.sdk.coders.AtomicCoder;
import org.apache.beam.sdk.coders.Coder;
import org.apache.beam.sdk.util.VarInt;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A batch of feature vectors as one element, {@code count} rows of {@code dimension} doubles, row-major: the
 * feature extractor emits one per network batch so the moments are accumulated a batch (one matrix product) at a time.
 */
public record FeatureRows(int count, int dimension, double[] values) {

    public static final Coder<FeatureRows> CODER = new RowsCoder();

    public FeatureRows {
        if (count < 0 || dimension < 1 || values.length != (long) count * dimension) {
            throw new IllegalArgumentException(count + " rows of dimension " + dimension + " need " + (long) count * dimension
                    + " values, got " + values.length);
        }
    }

    /** Big-endian IEEE doubles after the two sizes: exact and deterministic. */
    private static final class RowsCoder extends AtomicCoder<FeatureRows> {
        @Override
        public void encode(FeatureRows rows, OutputStream out) throws IOException {
            VarInt.encode(rows.count(), out);
            VarInt.encode(rows.dimension(), out);
            DataOutputStream data = new DataOutputStream(out);
            for (double v : rows.values()) data.writeDouble(v);
            data.flush();
        }

        @Override
        public FeatureRows decode(InputStream in) throws IOException {
            int count = VarInt.decodeInt(in);
            int dimension = VarInt.decodeInt(in);
            DataInputStream data = new DataInputStream(in);
            double[] values = new double[Math.multiplyExact(count, dimension)];
            for (int i = 0; i < values.length; i++) values[i] = data.readDouble();
            return new FeatureRows(count, dimension, values);
        }
    }
}
