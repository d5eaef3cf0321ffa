package org.transcend.model.vae;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class VaeConfigTest {

    @Test
    void presetsGiveTheirLatentSides() {
        assertEquals(32, VaeConfig.sdVae().latentResolution());
        assertEquals(8, VaeConfig.tiny().latentResolution());
        assertEquals(8, VaeConfig.fashionMnist().latentResolution());
        assertEquals(4, VaeConfig.fashionMnist().downsamplingFactor());
    }

    @Test
    void rejectsLevelChannelsThatGroupNormCannotSplit() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new VaeConfig(3, 3, 32, 48, List.of(1, 2), 1, List.of(), 4, true).validate());
        assertEquals("channelMultipliers[0] = 1 gives 48 channels at that level; accepted: a positive multiplier giving a "
                + "multiple of 32 channels (GroupNorm has 32 groups)", e.getMessage());
    }

    @Test
    void rejectsAnAttentionResolutionThatIsNoLevelsSide() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new VaeConfig(3, 3, 32, 32, List.of(1, 2), 1, List.of(12), 4, true).validate());
        assertEquals("attentionResolutions contains 12, which is no level's side; accepted: [32, 16] for resolution 32", e.getMessage());
    }

    @Test
    void rejectsAResolutionTheLevelsCannotHalve() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new VaeConfig(1, 1, 30, 32, List.of(1, 2, 2), 1, List.of(), 4, true).validate());
        assertEquals("resolution = 30 is not divisible by the downsampling factor 4 of 3 levels", e.getMessage());
    }

    @Test
    void rejectsASingleLatentOutput() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new VaeConfig(1, 1, 32, 32, List.of(1, 2, 2), 1, List.of(), 4, false).validate());
        assertEquals("doubleZ = false; accepted: true (the KL autoencoder's encoder outputs the mean and log-variance of a "
                + "diagonal Gaussian, 2 × latentChannels channels)", e.getMessage());
    }

    @Test
    void acceptsFewerNormGroupsForANarrowVaeAndRunsIt() {
        VaeConfig narrow = new VaeConfig(1, 1, 16, 16, List.of(1, 2), 1, List.of(), 4, true, 8).validate();
        AutoencoderKL vae = AutoencoderKL.initialized(narrow, 3);
        Posterior posterior = vae.encode(org.nd4j.linalg.factory.Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 1, 16, 16));
        assertArrayEquals(new long[]{2, 4, 8, 8}, posterior.mean().shape());
        assertArrayEquals(new long[]{2, 1, 16, 16}, vae.decode(posterior.mean()).shape());
        var e = assertThrows(IllegalArgumentException.class,
                () -> new VaeConfig(1, 1, 16, 16, List.of(1, 2), 1, List.of(), 4, true).validate());
        assertEquals("channelMultipliers[0] = 1 gives 16 channels at that level; accepted: a positive multiplier giving a "
                + "multiple of 32 channels (GroupNorm has 32 groups)", e.getMessage());
    }
}
