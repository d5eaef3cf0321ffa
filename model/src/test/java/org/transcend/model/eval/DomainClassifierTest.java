package org.transcend.model.eval;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.transcend.model.train.AdamW;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class DomainClassifierTest {

    private static final DomainClassifier.Config TINY = new DomainClassifier.Config(1, 12, List.of(8, 16), 32, 4);

    /** A labelled set of noisy images, each class a bright 6×6 square in its own quadrant. */
    private record Set(INDArray images, int[] labels) {
        static Set quadrants(int n, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            INDArray images = Nd4j.create(DataType.FLOAT, n, 1, 12, 12);
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) {
                labels[i] = r.nextInt(4);
                int top = (labels[i] / 2) * 6, left = (labels[i] % 2) * 6;
                for (int y = 0; y < 12; y++) for (int x = 0; x < 12; x++) {
                    boolean inSquare = y >= top && y < top + 6 && x >= left && x < left + 6;
                    images.putScalar(new long[]{i, 0, y, x}, Math.min(1, Math.max(0, (inSquare ? 0.6 : 0.3) + 0.25 * r.nextGaussian())));
                }
            }
            return new Set(images, labels);
        }

        Set batch(int start, int size) {
            return new Set(images.get(NDArrayIndex.interval(start, start + size)), Arrays.copyOfRange(labels, start, start + size));
        }
    }

    private static DomainClassifier trained(long seed, Set train, int epochs) {
        DomainClassifier c = DomainClassifier.initialise(TINY, DataType.FLOAT, seed);
        AdamW adam = new AdamW(new AdamW.Hyper(3e-3, 0.9, 0.999, 1e-8, 0.0));
        long step = 0;
        for (int e = 0; e < epochs; e++) {
            for (int start = 0; start < train.labels().length; start += 32) {
                Set b = train.batch(start, 32);
                c.trainStep(b.images(), b.labels(), adam, ++step);
            }
        }
        return c;
    }

    @Test
    void learnsASeparableTaskToHighAccuracyInAFewEpochs() {
        Set train = Set.quadrants(256, 1), test = Set.quadrants(128, 2);
        DomainClassifier c = DomainClassifier.initialise(TINY, DataType.FLOAT, 7);
        double before = c.accuracy(test.images(), test.labels());
        double lossBefore = c.loss(train.images(), train.labels());
        c = trained(7, train, 4);
        double after = c.accuracy(test.images(), test.labels());
        assertTrue(before < 0.5, "accuracy before training " + before);
        assertTrue(after >= 0.95, "accuracy after training " + after);
        assertTrue(c.loss(train.images(), train.labels()) < 0.3 * lossBefore);
    }

    @Test
    void trainingIsDeterministicGivenTheSeedAndTheBatchOrder() {
        Set train = Set.quadrants(64, 3);
        Map<String, INDArray> a = trained(11, train, 1).stateDict(), b = trained(11, train, 1).stateDict();
        a.forEach((name, t) -> assertEquals(t, b.get(name), name));
        assertNotEquals(DomainClassifier.initialise(TINY, DataType.FLOAT, 11).stateDict().get("fc.weight"),
                DomainClassifier.initialise(TINY, DataType.FLOAT, 12).stateDict().get("fc.weight"));
    }

    @Test
    void featuresArePenultimateReluActivationsOfTheConfiguredDimension() {
        DomainClassifier c = DomainClassifier.initialise(TINY, DataType.FLOAT, 5);
        Set s = Set.quadrants(300, 4);
        INDArray f = c.features(s.images());
        assertArrayEquals(new long[]{300, 32}, f.shape());
        assertEquals(32, c.featureDimension());
        assertTrue(f.minNumber().doubleValue() >= 0);
        // The logits are the head applied to those features.
        Map<String, INDArray> p = c.stateDict();
        INDArray logits = f.mmul(p.get("head.weight").transpose()).addRowVector(p.get("head.bias"));
        assertTrue(logits.equalsWithEps(c.logits(s.images()), 1e-5));
    }

    @Test
    void lossIsTheMeanCrossEntropyOfTheLogits() {
        DomainClassifier c = DomainClassifier.initialise(TINY, DataType.DOUBLE, 6);
        Set s = Set.quadrants(3, 5);
        INDArray logits = c.logits(s.images());
        double expected = 0;
        for (int i = 0; i < 3; i++) {
            double[] row = logits.getRow(i).toDoubleVector();
            double logSum = Math.log(Arrays.stream(row).map(Math::exp).sum());
            expected += (logSum - row[s.labels()[i]]) / 3;
        }
        assertEquals(expected, c.loss(s.images(), s.labels()), 1e-12);
    }

    @Test
    void stateDictSurvivesAFileRoundTrip() throws IOException {
        DomainClassifier c = DomainClassifier.initialise(new DomainClassifier.Config(3, 8, List.of(4), 6, 3), DataType.FLOAT, 9);
        Path file = Files.createTempFile("classifier", ".safetensors");
        try {
            c.write(file);
            DomainClassifier back = DomainClassifier.read(file);
            assertEquals(c.config(), back.config());
            INDArray images = Nd4j.rand(DataType.FLOAT, 5, 3, 8, 8);
            assertEquals(c.logits(images), back.logits(images));
            c.stateDict().forEach((name, t) -> assertEquals(t, back.stateDict().get(name), name));
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void loadStateDictNamesMissingAndMisshapenTensors() {
        DomainClassifier c = DomainClassifier.initialise(TINY, DataType.FLOAT, 1);
        Map<String, INDArray> sd = c.stateDict();
        sd.remove("conv2.bias");
        sd.put("fc.weight", Nd4j.zeros(DataType.FLOAT, 32, 10));
        String message = assertThrows(IllegalArgumentException.class, () -> c.loadStateDict(sd)).getMessage();
        assertTrue(message.contains("missing 'conv2.bias' [16]"), message);
        assertTrue(message.contains("'fc.weight' has shape [32, 10], expected [32, 144]"), message);
    }

    @Test
    void badImagesLabelsAndConfigsAreRefusedWithTheOffendingValue() {
        DomainClassifier c = DomainClassifier.initialise(TINY, DataType.FLOAT, 1);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> c.features(Nd4j.rand(DataType.FLOAT, 2, 3, 12, 12)))
                .getMessage().contains("expected [N, 1, 12, 12]"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> c.accuracy(Nd4j.rand(DataType.FLOAT, 2, 1, 12, 12), new int[]{0, 4}))
                .getMessage().contains("label 4 at position 1"));
        assertThrows(IllegalArgumentException.class, () -> new DomainClassifier.Config(2, 12, List.of(8), 8, 4).validate());
        assertThrows(IllegalArgumentException.class, () -> new DomainClassifier.Config(1, 3, List.of(8, 8), 8, 4).validate());
    }

    @Test
    void convolutionAndPoolingGradientsMatchFiniteDifferencesInFloat64() {
        DomainClassifier c = DomainClassifier.initialise(new DomainClassifier.Config(3, 8, List.of(3, 4), 5, 3), DataType.DOUBLE, 2);
        SplittableRandom r = new SplittableRandom(8);
        INDArray images = Nd4j.create(DataType.DOUBLE, 2, 3, 8, 8);
        for (long i = 0; i < images.length(); i++) images.putScalar(i, r.nextDouble());
        int[] labels = {2, 0};
        Map<String, INDArray> grads = c.gradients(images, labels);
        Map<String, INDArray> params = c.stateDict();
        double h = 1e-6;
        for (String name : List.of("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc.weight", "head.bias")) {
            INDArray p = params.get(name);
            for (long k = 0; k < p.length(); k += Math.max(1, p.length() / 7)) {
                double original = p.getDouble(k);
                p.putScalar(k, original + h);
                c.loadStateDict(params);
                double up = c.loss(images, labels);
                p.putScalar(k, original - h);
                c.loadStateDict(params);
                double down = c.loss(images, labels);
                p.putScalar(k, original);
                double numeric = (up - down) / (2 * h);
                assertEquals(numeric, grads.get(name).getDouble(k), 1e-6 + 1e-5 * Math.abs(numeric), name + "[" + k + "]");
            }
        }
        c.loadStateDict(params);
    }
}
