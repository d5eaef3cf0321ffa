package org.transcend.model.vae;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.Fixtures;
import org.transcend.model.io.Safetensors;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AutoencoderKLParityTest {

    private static final double TOLERANCE = 1e-5;

    @Test
    void matchesThePyTorchReferenceOnTheLdmFixture() throws IOException {
        Safetensors.Contents ref = Safetensors.read(Fixtures.file("vae_tiny_ldm.safetensors"));
        Map<String, INDArray> weights = new LinkedHashMap<>(ref.tensors());
        weights.keySet().removeIf(n -> n.startsWith("io."));
        assertMatchesReference(new AutoencoderKL(VaeConfig.tiny(), weights), ref);
    }

    static void assertMatchesReference(AutoencoderKL vae, Safetensors.Contents ref) {
        Posterior posterior = vae.encode(ref.require("io.x"));
        assertClose("io.moments", ref.require("io.moments"), posterior.moments());
        assertClose("io.mean", ref.require("io.mean"), posterior.mean());
        assertClose("io.std", ref.require("io.std"), posterior.std());
        assertClose("io.decoded", ref.require("io.decoded"), vae.decode(ref.require("io.mean")));
    }

    static void assertClose(String name, INDArray expected, INDArray actual) {
        assertArrayEquals(expected.shape(), actual.shape(), name + " shape");
        double error = actual.sub(expected).norm2Number().doubleValue() / expected.norm2Number().doubleValue();
        assertTrue(error < TOLERANCE, name + ": relative error " + error + " ≥ " + TOLERANCE);
    }
}
