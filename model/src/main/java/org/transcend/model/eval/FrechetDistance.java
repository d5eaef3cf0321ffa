package org.transcend.model.eval;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_MT_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_MT_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * The Fréchet distance between two Gaussians, {@code ‖μ1 − μ2‖² + Tr(Σ1) + Tr(Σ2) − 2·Tr((Σ1Σ2)^½)}, the
 * quantity behind FID. The trace of the square root is the sum of the square roots of the eigenvalues of
 * the symmetric {@code Σ1^½ Σ2 Σ1^½}, which is stable where a general matrix square root is not.
 */
public final class FrechetDistance {

    private FrechetDistance() {}

    /** The distance between the Gaussians of two feature sets. */
    public static double distance(FeatureMoments a, FeatureMoments b) {
        return distance(a.mean(), a.covariance(), b.mean(), b.covariance());
    }

    /** The distance for means of length d and row-major d × d covariances (as {@link FeatureMoments#covariance()} gives them). */
    public static double distance(double[] mu1, double[] sigma1, double[] mu2, double[] sigma2) {
        int d = mu1.length;
        if (mu2.length != d || sigma1.length != d * d || sigma2.length != d * d) {
            throw new IllegalArgumentException("means of length " + mu1.length + " and " + mu2.length + " with covariances of "
                    + sigma1.length + " and " + sigma2.length + " entries; both means of length d and both covariances d×d are accepted");
        }
        double meanTerm = 0;
        double traces = 0;
        for (int i = 0; i < d; i++) {
            double diff = mu1[i] - mu2[i];
            meanTerm += diff * diff;
            traces += sigma1[i * d + i] + sigma2[i * d + i];
        }
        return meanTerm + traces - 2 * traceSqrtProduct(DMatrixRMaj.wrap(d, d, sigma1), DMatrixRMaj.wrap(d, d, sigma2));
    }

    /**
     * {@code Tr((Σ1Σ2)^½) = Σ sqrt(λ_i(Σ1^½ Σ2 Σ1^½))}. With {@code Σ1 = Q Λ Qᵀ} and {@code B = Q Λ^½},
     * {@code Σ1^½ Σ2 Σ1^½ = Q (Bᵀ Σ2 B) Qᵀ} has the eigenvalues of {@code Bᵀ Σ2 B}, which saves a product.
     * Eigenvalues below zero come from rank deficiency and rounding and are clamped to zero.
     */
    static double traceSqrtProduct(DMatrixRMaj sigma1, DMatrixRMaj sigma2) {
        int d = sigma1.numRows;
        EigenDecomposition_F64<DMatrixRMaj> first = DecompositionFactory_MT_DDRM.eig(d, true, true);
        if (!first.decompose(sigma1.copy())) {
            throw new ArithmeticException("the eigen decomposition of the first " + d + "x" + d + " covariance did not converge");
        }
        DMatrixRMaj b = new DMatrixRMaj(d, d);
        for (int k = 0; k < d; k++) {
            double root = Math.sqrt(Math.max(0, first.getEigenvalue(k).real));
            DMatrixRMaj q = first.getEigenVector(k);
            for (int i = 0; i < d; i++) {
                b.data[i * d + k] = q.data[i] * root;
            }
        }
        DMatrixRMaj sigma2b = new DMatrixRMaj(d, d);
        CommonOps_MT_DDRM.mult(sigma2, b, sigma2b);
        DMatrixRMaj inner = new DMatrixRMaj(d, d);
        CommonOps_MT_DDRM.multTransA(b, sigma2b, inner);
        symmetrise(inner);
        EigenDecomposition_F64<DMatrixRMaj> second = DecompositionFactory_MT_DDRM.eig(d, false, true);
        if (!second.decompose(inner)) {
            throw new ArithmeticException("the eigen decomposition of Σ1^½ Σ2 Σ1^½ (" + d + "x" + d + ") did not converge");
        }
        double sum = 0;
        for (int k = 0; k < d; k++) {
            sum += Math.sqrt(Math.max(0, second.getEigenvalue(k).real));
        }
        return sum;
    }

    private static void symmetrise(DMatrixRMaj m) {
        int d = m.numRows;
        for (int i = 0; i < d; i++) {
            for (int j = i + 1; j < d; j++) {
                double v = 0.5 * (m.data[i * d + j] + m.data[j * d + i]);
                m.data[i * d + j] = v;
                m.data[j * d + i] = v;
            }
        }
    }
}
