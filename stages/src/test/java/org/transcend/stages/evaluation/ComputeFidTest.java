package org.transcend.stages.evaluation;

import org.apache.beam.sdk.coders.Coder;
import org.apache.beam.sdk.testing.PAssert;
import org.apache.beam.sdk.testing.TestPipeline;
import org.apache.beam.sdk.testing.TestPipelineExtension;
import org.apache.beam.sdk.transforms.Combine;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.transforms.Flatten;
import org.apache.beam.sdk.transforms.Reshuffle;
import org.apache.beam.sdk.extensions.avro.coders.AvroCoder;
import org.apache.beam.sdk.util.CoderUtils;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.transcend.model.eval.FeatureMoments;
import org.transcend.schemas.FeatureStats;
import org.transcend.schemas.Tensor;
import org.transcend.stages.io.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

@ExtendWith(TestPipelineExtension.class)
class ComputeFidTest {

    private static final int N = 600;
    private static final int D = 6;

    /** Correlated rows far from the origin, where a raw sum of outer products would lose digits. */
    private static double[] rows() {
        SplittableRandom r = new SplittableRandom(11);
        double[] x = new double[N * D];
        for (int i = 0; i < N; i++) {
            double common = r.nextGaussian();
            for (int j = 0; j < D; j++) x[i * D + j] = 1000 + 3 * j + common * (j + 1) + 0.5 * r.nextGaussian();
        }
        return x;
    }

    private static List<FeatureRows> batches(double[] x, int... sizes) {
        List<FeatureRows> out = new ArrayList<>();
        int start = 0, k = 0;
        while (start < N) {
            int n = Math.min(sizes[k++ % sizes.length], N - start);
            out.add(new FeatureRows(n, D, Arrays.copyOfRange(x, start * D, (start + n) * D)));
            start += n;
        }
        return out;
    }

    @Test
    void theMomentsAreTheSameHoweverTheRowsAreSharded(TestPipeline p) {
        double[] x = rows();
        FeatureMoments expected = new FeatureMoments(D).add(x, N);
        double[] mean = expected.mean(), scatter = expected.scatter();
        List<PCollection<FeatureMoments>> results = new ArrayList<>();
        results.add(combine("whole", p.apply("whole", Create.of(batches(x, N)).withCoder(FeatureRows.CODER))));
        results.add(combine("sevens", p.apply("sevens", Create.of(batches(x, 7)).withCoder(FeatureRows.CODER))
                .apply("spread sevens", Reshuffle.viaRandomKey())));
        List<FeatureRows> mixed = batches(x, 1, 50, 13, 200, 2);
        PCollectionList<FeatureRows> parts = PCollectionList.empty(p);
        for (int s = 0; s < 3; s++) {
            List<FeatureRows> shard = new ArrayList<>();
            for (int i = s; i < mixed.size(); i += 3) shard.add(mixed.get(i));
            parts = parts.and(p.apply("shard " + s, Create.of(shard).withCoder(FeatureRows.CODER)));
        }
        results.add(combine("mixed", parts.apply(Flatten.pCollections()).apply("spread mixed", Reshuffle.viaRandomKey())));
        for (PCollection<FeatureMoments> r : results) {
            PAssert.thatSingleton(r.getName(), r).satisfies(m -> {
                assertEquals(N, m.count());
                assertClose(mean, m.mean(), 1e-12);
                assertClose(scatter, m.scatter(), 1e-12);
                return null;
            });
        }
        p.run().waitUntilFinish();
    }

    private static PCollection<FeatureMoments> combine(String name, PCollection<FeatureRows> rows) {
        return rows.apply("moments of " + name, Combine.globally(new AccumulateMoments(D)).withoutDefaults());
    }

    /** Normwise relative: the largest difference against the largest entry. */
    private static void assertClose(double[] expected, double[] actual, double relative) {
        double scale = Arrays.stream(expected).map(Math::abs).max().orElse(0);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], relative * scale, "entry " + i);
        }
    }

    @Test
    void anEncodedAccumulatorDecodesToTheSameStateAndItsCoderIsDeterministic() throws Exception {
        FeatureMoments m = new FeatureMoments(D).add(rows(), N);
        Coder<FeatureMoments> coder = AccumulateMoments.MomentsCoder.INSTANCE;
        coder.verifyDeterministic();
        FeatureRows.CODER.verifyDeterministic();
        FeatureMoments back = CoderUtils.clone(coder, m);
        assertEquals(m.count(), back.count());
        assertArrayEquals(m.mean(), back.mean(), 0.0);
        assertArrayEquals(m.scatter(), back.scatter(), 0.0);
        assertArrayEquals(CoderUtils.encodeToByteArray(coder, m), CoderUtils.encodeToByteArray(coder, back));
    }

    @Test
    void pixelStatisticsOfAShiftedSetAreAtTheSquaredShiftPerPixel(TestPipeline p) {
        int n = 40, side = 4;
        SplittableRandom r = new SplittableRandom(3);
        List<Tensor> images = new ArrayList<>(), shifted = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] a = new byte[side * side], b = new byte[side * side];
            for (int j = 0; j < a.length; j++) {
                int v = r.nextInt(200);
                a[j] = (byte) v;
                b[j] = (byte) (v + 10);
            }
            images.add(Tensors.uint8(a, 1, side, side));
            shifted.add(Tensors.uint8(b, 1, side, side));
        }
        FeatureNetworkSpec spec = FeatureNetworkSpec.pixels(1, side);
        // A batch of 3 leaves a remainder in most bundles, so the bundle-end flush is exercised too.
        PCollection<FeatureStats> a = p.apply("images", Create.of(images).withCoder(AvroCoder.of(Tensor.class))).apply("a", new ComputeFid(spec, 3));
        PCollection<FeatureStats> b = p.apply("shifted", Create.of(shifted).withCoder(AvroCoder.of(Tensor.class))).apply("b", new ComputeFid(spec, 3));
        PAssert.thatSingleton(a).satisfies(s -> {
            assertEquals(n, s.getCount());
            assertEquals("pixels", s.getFeatureNetwork().toString());
            assertEquals("pixels-1x4x4", s.getFeatureNetworkKey().toString());
            assertEquals(0.0, ComputeFid.distance(s, s), 1e-9);
            return null;
        });
        PAssert.thatSingleton(b).satisfies(s -> {
            assertEquals(n, s.getCount());
            return null;
        });
        p.run().waitUntilFinish();
    }

    @Test
    void aShiftOfEveryPixelAddsItsSquareTimesTheDimensionAndNothingElse() {
        double[] x = rows();
        FeatureMoments a = new FeatureMoments(D).add(x, N);
        double[] y = x.clone();
        for (int i = 0; i < y.length; i++) y[i] += 0.25;
        FeatureMoments b = new FeatureMoments(D).add(y, N);
        FeatureNetworkSpec spec = new FeatureNetworkSpec(FeatureNetworkSpec.Kind.PIXELS, "", "k", 1, 1, D);
        assertEquals(D * 0.0625, ComputeFid.distance(ComputeFid.stats(a, spec), ComputeFid.stats(b, spec)), 1e-8);
    }
}
