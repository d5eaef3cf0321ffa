package org.transcend.model.vae;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.Fixtures;
import org.transcend.model.io.Safetensors;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AutoencoderKLParityTest {

    private static final double TOLERANCE = 1e-5;

    @Test
    void matchesThePyTorchReferenceWithLdmNamedWeights() throws IOException {
        var file = Fixtures.file("vae_tiny_ldm.safetensors");
        assertMatchesReference(VaeWeights.load(file, VaeConfig.tiny()), Safetensors.read(file), TOLERANCE);
    }

    @Test
    void matchesThePyTorchReferenceWithDiffusersNamedWeightsAndInfersTheConfig() throws IOException {
        var file = Fixtures.file("vae_tiny_diffusers.safetensors");
        AutoencoderKL vae = VaeWeights.load(file, 16);
        assertEquals(VaeConfig.tiny(), vae.config());
        assertMatchesReference(vae, Safetensors.read(file), TOLERANCE);
    }

    @Test
    void givesTheSameStateDictFromBothNamings() throws IOException {
        var ldm = VaeWeights.load(Fixtures.file("vae_tiny_ldm.safetensors"), 16).stateDict();
        var diffusers = VaeWeights.load(Fixtures.file("vae_tiny_diffusers.safetensors"), 16).stateDict();
        assertEquals(ldm.keySet(), diffusers.keySet());
        ldm.forEach((name, value) -> assertEquals(value, diffusers.get(name), name));
    }

    static void assertMatchesReference(AutoencoderKL vae, Safetensors.Contents ref, double tolerance) {
        Posterior posterior = vae.encode(ref.require("io.x"));
        assertClose("io.moments", ref.require("io.moments"), posterior.moments(), tolerance);
        assertClose("io.mean", ref.require("io.mean"), posterior.mean(), tolerance);
        assertClose("io.std", ref.require("io.std"), posterior.std(), tolerance);
        assertClose("io.decoded", ref.require("io.decoded"), vae.decode(ref.require("io.mean")), tolerance);
    }

    static void assertClose(String name, INDArray expected, INDArray actual, double tolerance) {
        assertArrayEquals(expected.shape(), actual.shape(), name + " shape");
        double error = actual.sub(expected).norm2Number().doubleValue() / expected.norm2Number().doubleValue();
        assertTrue(error < tolerance, name + ": relative error " + error + " ≥ " + tolerance);
    }
}
