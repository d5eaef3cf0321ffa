package org.transcend.model.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.transcend.model.Fixtures;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class FrechetDistanceTest {

    private static JsonNode vectors;

    @BeforeAll
    static void readVectors() throws IOException {
        vectors = new ObjectMapper().readTree(Fixtures.file("fid_vectors.json").toFile());
    }

    private static double tolerance(String name) {
        return vectors.get("tolerance").get(name).asDouble();
    }

    /** The feature generator spelled out in fid_vectors.json: SplitMix64, u = (z >>> 11)·2^-53, x = u − 0.5 + shift. */
    static double[] splitmixFeatures(long seed, int n, int c, double shift) {
        double[] x = new double[n * c];
        long state = seed;
        for (int i = 0; i < x.length; i++) {
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            x[i] = (z >>> 11) * 0x1.0p-53 - 0.5 + shift;
        }
        return x;
    }

    private static double[] vector(JsonNode node, int d) {
        if (node.isTextual()) {
            double fill = switch (node.asText()) {
                case "zeros" -> 0;
                case "ones" -> 1;
                default -> throw new IllegalArgumentException("unknown vector " + node);
            };
            double[] v = new double[d];
            java.util.Arrays.fill(v, fill);
            return v;
        }
        double[] v = new double[node.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = node.get(i).asDouble();
        }
        return v;
    }

    private static double[] matrix(JsonNode node, int d) {
        double[] m = new double[d * d];
        if (node.isTextual()) {
            assertEquals("identity", node.asText());
            for (int i = 0; i < d; i++) {
                m[i * d + i] = 1;
            }
            return m;
        }
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                m[i * d + j] = node.get(i).get(j).asDouble();
            }
        }
        return m;
    }

    @Test
    void closedFormCasesMatchTheReference() {
        int checked = 0;
        for (JsonNode c : vectors.get("cases")) {
            if (c.has("n")) {
                continue;
            }
            int d = c.has("d") ? c.get("d").asInt() : c.get("mu1").size();
            long start = System.nanoTime();
            double fid = FrechetDistance.distance(vector(c.get("mu1"), d), matrix(c.get("sigma1"), d), vector(c.get("mu2"), d), matrix(c.get("sigma2"), d));
            System.out.printf("Frechet %s (d=%d): %.15g in %.2f s%n", c.get("id").asText(), d, fid, (System.nanoTime() - start) / 1e9);
            assertEquals(c.get("fid").asDouble(), fid, tolerance("fid_full_rank"), c.get("id").asText());
            checked++;
        }
        assertEquals(3, checked);
    }

    /**
     * Covariances from n ≤ c samples have rank n − 1 < c; there scipy's two methods differ by 6e-7 and the file
     * allows 1e-6. An independent exact value comes from Tr((Σ1Σ2)^½) = Σ singular values of
     * X̃1·X̃2ᵀ/(n − 1) (X̃ the centred features), whose n × n SVD has no rank-deficient null space; the
     * distance must match it to 1e-9. (Full-rank cases, where scipy's methods agree to 1e-13, skip this n × n check.) Against scipy's sqrtm, which is the least accurate of the three, the
     * file's rank-deficient tolerance is applied relative to the distance.
     */
    @Test
    void splitmixFeatureSetsMatchTheReference() {
        int checked = 0;
        for (JsonNode c : vectors.get("cases")) {
            if (!c.has("n")) {
                continue;
            }
            int n = c.get("n").asInt(), d = c.get("c").asInt();
            String id = c.get("id").asText();
            FeatureMoments first = new FeatureMoments(d).add(splitmixFeatures(c.get("seed1").asLong(), n, d, 0), n);
            FeatureMoments second = new FeatureMoments(d).add(splitmixFeatures(c.get("seed2").asLong(), n, d, c.get("shift").asDouble()), n);
            double[] mu = first.mean();
            double[] sigma = first.covariance();
            double sumMu = 0, trace = 0;
            for (int i = 0; i < d; i++) {
                sumMu += mu[i];
                trace += sigma[i * d + i];
            }
            double checks = tolerance("checks");
            assertEquals(c.get("sum_mu1").asDouble(), sumMu, checks, id);
            assertEquals(c.get("trace_sigma1").asDouble(), trace, checks, id);
            assertEquals(c.get("sigma1_0_1").asDouble(), sigma[1], checks, id);

            double fid = FrechetDistance.distance(first, second);
            boolean rankDeficient = n <= d;
            System.out.printf("Frechet %s: %.15g (scipy sqrtm %.15g, symmetric eigen %.15g)%n", id, fid,
                    c.get("fid").asDouble(), c.get("fid_symmetric_eigen").asDouble());
            if (rankDeficient) {
                double exact = sumSquares(mu, second.mean()) + trace + trace(second.covariance(), d)
                        - 2 * nuclearNorm(splitmixFeatures(c.get("seed1").asLong(), n, d, 0), splitmixFeatures(c.get("seed2").asLong(), n, d, 0), n, d);
                assertEquals(exact, fid, 1e-9, id + " against the singular-value identity");
                assertEquals(c.get("fid_symmetric_eigen").asDouble(), fid, tolerance("fid_rank_deficient"), id);
                assertEquals(c.get("fid").asDouble(), fid, tolerance("fid_rank_deficient") * fid, id);
            } else {
                assertEquals(c.get("fid_symmetric_eigen").asDouble(), fid, tolerance("fid_full_rank"), id);
                assertEquals(c.get("fid").asDouble(), fid, tolerance("fid_full_rank"), id);
            }
            checked++;
        }
        assertEquals(3, checked);
    }

    private static double sumSquares(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (a[i] - b[i]) * (a[i] - b[i]);
        }
        return s;
    }

    private static double trace(double[] m, int d) {
        double s = 0;
        for (int i = 0; i < d; i++) {
            s += m[i * d + i];
        }
        return s;
    }

    /** Σ singular values of X̃1·X̃2ᵀ/(n − 1), an n × n matrix; the shift of set 2 cancels in the centring. */
    private static double nuclearNorm(double[] x1, double[] x2, int n, int d) {
        DMatrixRMaj a = centred(x1, n, d);
        DMatrixRMaj b = centred(x2, n, d);
        DMatrixRMaj product = new DMatrixRMaj(n, n);
        CommonOps_DDRM.multTransB(1.0 / (n - 1), a, b, product);
        double s = 0;
        for (double v : SingularOps_DDRM.singularValues(product)) {
            s += v;
        }
        return s;
    }

    private static DMatrixRMaj centred(double[] x, int n, int d) {
        DMatrixRMaj m = new DMatrixRMaj(n, d, true, x);
        for (int j = 0; j < d; j++) {
            double mean = 0;
            for (int i = 0; i < n; i++) {
                mean += m.get(i, j);
            }
            mean /= n;
            for (int i = 0; i < n; i++) {
                m.set(i, j, m.get(i, j) - mean);
            }
        }
        return m;
    }

    @Test
    void identicalGaussiansAreAtDistanceZero() {
        int d = 48, n = 500;
        FeatureMoments m = new FeatureMoments(d).add(splitmixFeatures(9, n, d, 0.3), n);
        double fid = FrechetDistance.distance(m, m);
        assertEquals(0, fid, 1e-12 * d);
    }

    @Test
    void refusesMismatchedDimensions() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FrechetDistance.distance(new double[2], new double[4], new double[3], new double[9]));
        assertTrue(e.getMessage().contains("means of length 2 and 3"), e.getMessage());
    }

    /** Shards of uneven sizes merged in a scrambled order give the one-pass moments to 1e-12 relative. */
    @Test
    void shardedAccumulationEqualsOnePass() {
        int n = 2000, d = 64;
        double[] x = splitmixFeatures(1, n, d, 1000.0);
        FeatureMoments whole = new FeatureMoments(d).add(x, n);
        int[] bounds = {0, 1, 8, 508, 1300, 2000};
        List<FeatureMoments> shards = new ArrayList<>();
        for (int s = 0; s + 1 < bounds.length; s++) {
            int rows = bounds[s + 1] - bounds[s];
            shards.add(new FeatureMoments(d).add(java.util.Arrays.copyOfRange(x, bounds[s] * d, bounds[s + 1] * d), rows));
        }
        FeatureMoments merged = new FeatureMoments(d);
        for (int s : new int[]{3, 0, 4, 2, 1}) {
            merged.merge(shards.get(s));
        }
        FeatureMoments restored = new FeatureMoments(merged.count(), merged.mean(), merged.scatter());
        assertEquals(n, restored.count());
        assertClose(whole.mean(), restored.mean());
        assertClose(whole.covariance(), restored.covariance());
    }

    private static void assertClose(double[] expected, double[] actual) {
        double scale = 0, diff = 0;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(diff <= 1e-12 * scale, "max difference " + diff + " against max magnitude " + scale);
    }
}
