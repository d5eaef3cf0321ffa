package org.transcend.model.eval;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.Fixtures;
import org.transcend.model.io.Safetensors;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** FID-Inception against pytorch-fid with random weights (fixture fid_inception_random.safetensors). */
class FidInceptionParityTest {

    private static Map<String, INDArray> reference;
    private static FidInception.Taps taps;
    private static FidInception inception;

    @BeforeAll
    static void runTheNetworkOnceOnTheFixtureBatch() throws IOException {
        Map<String, INDArray> tensors = Safetensors.read(Fixtures.file("fid_inception_random.safetensors")).tensors();
        reference = new LinkedHashMap<>();
        Map<String, INDArray> stateDict = new LinkedHashMap<>();
        tensors.forEach((name, a) -> (name.startsWith("io.") ? reference : stateDict).put(name, a));
        inception = new FidInception(FidInceptionWeights.of(stateDict));
        taps = inception.taps(reference.get("io.x"));
    }

    private static void assertClose(String name, INDArray got) {
        INDArray expected = reference.get("io." + name);
        assertArrayEquals(expected.shape(), got.shape(), name);
        double relative = got.sub(expected).norm2Number().doubleValue() / expected.norm2Number().doubleValue();
        assertTrue(relative < 1e-4, name + " relative error " + relative);
    }

    @Test
    void bilinearResizeMatchesTorchInterpolate() {
        assertClose("resized", taps.resized());
    }

    @Test
    void blockOutputsMatchPytorchFid() {
        assertClose("mixed_5d", taps.mixed5d());
        assertClose("mixed_6e", taps.mixed6e());
        assertClose("mixed_7c", taps.mixed7c());
    }

    @Test
    void pool3FeaturesMatchPytorchFid() {
        assertClose("pool3", taps.pool3());
        assertClose("pool3", inception.features(reference.get("io.x")));
    }
}
