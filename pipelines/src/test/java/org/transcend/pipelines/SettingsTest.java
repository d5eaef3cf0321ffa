package org.transcend.pipelines;

import org.junit.jupiter.api.Test;
import org.transcend.pipelines.config.ConfigException;
import org.transcend.pipelines.config.Settings;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SettingsTest {

    @Test
    void anUnknownKeyIsRejectedWithTheValidKeys() {
        ConfigException e = assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("data.limt=5")));
        assertTrue(e.getMessage().contains("unknown setting 'data.limt'"), e.getMessage());
        assertTrue(e.getMessage().contains("data.limit"), e.getMessage());
    }

    @Test
    void anOutOfRangeValueNamesTheKeyAndTheAcceptedRange() {
        ConfigException e = assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("data.limit=-3")));
        assertEquals("data.limit is -3; accepted: 0 to any", e.getMessage());
        ConfigException c = assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("data.source=mnist")));
        assertTrue(c.getMessage().contains("fashion-mnist, image-folder, cifar10"), c.getMessage());
    }

    @Test
    void valuesAreCanonicalSoEquivalentSpellingsShareAKey() {
        assertEquals("1000", Settings.resolve(null, List.of("data.limit=1e3")).get("data.limit"));
        assertEquals("1000", Settings.resolve(null, List.of("data.limit=1_000")).get("data.limit"));
    }

    @Test
    void anUnknownPresetListsTheBundledOnes() {
        ConfigException e = assertThrows(ConfigException.class, () -> Settings.resolve("fmnist-slow", List.of()));
        assertTrue(e.getMessage().contains("fmnist-quick"), e.getMessage());
    }

    @Test
    void overridesWinOverThePreset() {
        Settings s = Settings.resolve("fmnist-quick", List.of("run.seed=7"));
        assertEquals(7, s.getLong("run.seed"));
    }
}
