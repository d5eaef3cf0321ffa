package org.transcend.model.eval;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The running mean and scatter matrix of feature vectors in float64, mergeable in any order (Chan, Golub
 * and LeVeque's pairwise update), so features accumulated on many workers combine into the statistics of
 * one pass. Each batch is centred on its own mean before its scatter is formed, which keeps the
 * cancellation of a raw sum of outer products out of the covariance.
 */
public final class FeatureMoments {

    private final int dimension;
    private long count;
    private final double[] mean;
    /** Σ (x − mean)(x − mean)ᵀ over everything added, row-major {@code dimension × dimension}. */
    private final DMatrixRMaj scatter;

    /** Empty moments for features of the given dimension. */
    public FeatureMoments(int dimension) {
        if (dimension < 1) {
            throw new IllegalArgumentException("feature dimension must be at least 1, got " + dimension);
        }
        this.dimension = dimension;
        this.mean = new double[dimension];
        this.scatter = new DMatrixRMaj(dimension, dimension);
    }

    /** Moments restored from their parts (as a combiner stores them); the arrays are copied. */
    public FeatureMoments(long count, double[] mean, double[] scatter) {
        this(mean.length);
        if (count < 0 || scatter.length != mean.length * mean.length) {
            throw new IllegalArgumentException("moments need count >= 0 and a " + mean.length + "x" + mean.length
                    + " scatter matrix; got count " + count + " and " + scatter.length + " scatter entries");
        }
        this.count = count;
        System.arraycopy(mean, 0, this.mean, 0, mean.length);
        System.arraycopy(scatter, 0, this.scatter.data, 0, scatter.length);
    }

    public int dimension() {
        return dimension;
    }

    public long count() {
        return count;
    }

    /** A copy of the mean. */
    public double[] mean() {
        return mean.clone();
    }

    /** A copy of the scatter matrix Σ (x − μ)(x − μ)ᵀ, row-major. */
    public double[] scatter() {
        return scatter.data.clone();
    }

    /** The unbiased (N − 1) covariance, row-major {@code dimension × dimension}. */
    public double[] covariance() {
        if (count < 2) {
            throw new IllegalStateException("a covariance needs at least 2 feature vectors, have " + count);
        }
        double[] c = scatter.data.clone();
        for (int i = 0; i < c.length; i++) {
            c[i] /= count - 1;
        }
        return c;
    }

    /** Adds the rows of a {@code [n, dimension]} array of features (any floating type). */
    public FeatureMoments add(INDArray features) {
        if (features.rank() != 2 || features.size(1) != dimension) {
            throw new IllegalArgumentException("features must be [n, " + dimension + "], got " + java.util.Arrays.toString(features.shape()));
        }
        int n = (int) features.size(0);
        return add(features.castTo(DataType.DOUBLE).dup('c').data().asDouble(), n);
    }

    /** Adds {@code n} feature vectors stored row-major in {@code rows}. */
    public FeatureMoments add(double[] rows, int n) {
        if (rows.length != (long) n * dimension) {
            throw new IllegalArgumentException(n + " rows of dimension " + dimension + " need " + (long) n * dimension
                    + " values, got " + rows.length);
        }
        if (n == 0) {
            return this;
        }
        double[] batchMean = new double[dimension];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < dimension; j++) {
                batchMean[j] += rows[i * dimension + j];
            }
        }
        for (int j = 0; j < dimension; j++) {
            batchMean[j] /= n;
        }
        DMatrixRMaj centred = new DMatrixRMaj(n, dimension);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < dimension; j++) {
                centred.data[i * dimension + j] = rows[i * dimension + j] - batchMean[j];
            }
        }
        DMatrixRMaj batchScatter = new DMatrixRMaj(dimension, dimension);
        CommonOps_DDRM.multTransA(centred, centred, batchScatter);
        combine(n, batchMean, batchScatter);
        return this;
    }

    /** Folds {@code other} into these moments; the result is that of adding both sets of features. */
    public FeatureMoments merge(FeatureMoments other) {
        if (other.dimension != dimension) {
            throw new IllegalArgumentException("cannot merge moments of dimension " + other.dimension + " into dimension " + dimension);
        }
        if (other.count > 0) {
            combine(other.count, other.mean, other.scatter);
        }
        return this;
    }

    private void combine(long n, double[] otherMean, DMatrixRMaj otherScatter) {
        long total = count + n;
        double[] delta = new double[dimension];
        for (int j = 0; j < dimension; j++) {
            delta[j] = otherMean[j] - mean[j];
        }
        double weight = (double) count * n / total;
        double[] s = scatter.data;
        double[] o = otherScatter.data;
        for (int i = 0; i < dimension; i++) {
            double di = delta[i] * weight;
            int row = i * dimension;
            for (int j = 0; j < dimension; j++) {
                s[row + j] += o[row + j] + di * delta[j];
            }
        }
        for (int j = 0; j < dimension; j++) {
            mean[j] += delta[j] * n / total;
        }
        count = total;
    }
}
