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
    void everyBundledPresetResolvesAndThePaperPresetCarriesMethodSettings() {
        for (String p : org.transcend.pipelines.config.Catalog.PRESETS) Settings.resolve(p, List.of());
        Settings b2 = Settings.resolve("imagenet256-sit-b2", List.of());
        assertEquals(768, b2.getInt("sit.hidden"));
        assertEquals(8, b2.getInt("teacher.block"));
        assertEquals(6, b2.getInt("student.block"));
        assertEquals(30.0, b2.getDouble("teacher.guidance"));
        assertEquals(100_000, b2.getLong("student.stop-step"));
    }

    @Test
    void aGuidanceIntervalWithLowAboveHighIsRefused() {
        ConfigException e = assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("sample.cfg-low=0.8", "sample.cfg-high=0.6")));
        assertTrue(e.getMessage().contains("sample.cfg-low <= sample.cfg-high"), e.getMessage());
        ConfigException d = assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("sit.depth=4", "teacher.block=8")));
        assertTrue(d.getMessage().contains("teacher.block is 8; accepted: 1 to sit.depth (4)"), d.getMessage());
    }

    @Test
    void aDhHeadShapeThatDoesNotFitIsRefusedNamingTheValueAndWhatIsAccepted() {
        ConfigException heads = assertThrows(ConfigException.class,
                () -> Settings.resolve("fmnist-dh", List.of("sit.head-heads=5")));
        assertEquals("sit.head-heads is 5; accepted: a divisor of sit.head-width (256)", heads.getMessage());
        ConfigException width = assertThrows(ConfigException.class,
                () -> Settings.resolve(null, List.of("sit.head-width=30", "sit.head-depth=2", "sit.head-heads=2")));
        assertEquals("sit.head-width is 30; accepted with sit.head-depth 2: a positive multiple of 4", width.getMessage());
        ConfigException orphan = assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("sit.head-width=64")));
        assertTrue(orphan.getMessage().contains("but sit.head-depth is 0"), orphan.getMessage());
        assertEquals(256, Settings.resolve("fmnist-dh", List.of()).getInt("sit.head-width"));
    }

    @Test
    void negativeStepsAndBlocksBeyondTheDepthAreRefusedWithTheValidRange() {
        assertEquals("warmup.steps is -5; accepted: 0 to any",
                assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("warmup.steps=-5"))).getMessage());
        assertEquals("train.checkpoint-every is 0; accepted: 1 to any",
                assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("train.checkpoint-every=0"))).getMessage());
        assertEquals("warmup.block is 7; accepted: 1 to sit.depth (6)",
                assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("sit.depth=6", "warmup.block=7",
                        "teacher.block=4", "student.block=3"))).getMessage());
        assertEquals("student.block is 0; accepted: 1 to 64",
                assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("student.block=0"))).getMessage());
        assertEquals("mask.low is 0.8, above mask.high (0.7); accepted: mask.low <= mask.high",
                assertThrows(ConfigException.class, () -> Settings.resolve(null, List.of("mask.low=0.8"))).getMessage());
    }

    @Test
    void anUnknownKeyInAPresetFileIsRefusedWithTheValidKeys(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path preset = dir.resolve("mine.yaml");
        java.nio.file.Files.writeString(preset, "sit:\n  depth: 4\n  dept: 5\n");
        ConfigException e = assertThrows(ConfigException.class, () -> Settings.resolve(preset.toString(), List.of()));
        assertTrue(e.getMessage().startsWith("unknown setting 'sit.dept' in preset " + preset + "; valid keys: "), e.getMessage());
        assertTrue(e.getMessage().contains("sit.depth"), e.getMessage());
    }

    @Test
    void overridesWinOverThePreset() {
        Settings s = Settings.resolve("fmnist-quick", List.of("run.seed=7"));
        assertEquals(7, s.getLong("run.seed"));
    }

    @Test
    void theTimeShiftIsGivenOneWayAndEntersKeysOnlyWhenSet() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> Settings.resolve(null, List.of("time-shift.alpha=2", "time-shift.base-dim=4096")));
        assertTrue(e.getMessage().contains("accepted: one of them"), e.getMessage());
        Settings plain = Settings.resolve(null, List.of());
        List<String> keys = List.of("time-shift.alpha", "time-shift.base-dim", "run.seed");
        assertEquals(List.of(), plain.changedFromDefault(keys));
        assertEquals(List.of("time-shift.base-dim"), Settings.resolve(null, List.of("time-shift.base-dim=1024")).changedFromDefault(keys));
        assertEquals(List.of(), Settings.resolve(null, List.of("time-shift.alpha=1.0")).changedFromDefault(keys), "1.0 is the default");
    }

    @Test
    void aPresetBuildsOnItsBaseAndALoopOfBasesIsRefused(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        Settings repa = Settings.resolve("fmnist-repa", List.of());
        assertEquals(128, repa.getInt("sit.hidden"), "from the base, fmnist-quick");
        assertEquals(2, repa.getInt("repa.block"));
        java.nio.file.Path a = dir.resolve("a.yaml"), b = dir.resolve("b.yaml");
        java.nio.file.Files.writeString(a, "base: " + b + "\nrun:\n  seed: 3\n");
        java.nio.file.Files.writeString(b, "base: " + a + "\n");
        ConfigException e = assertThrows(ConfigException.class, () -> Settings.resolve(a.toString(), List.of()));
        assertTrue(e.getMessage().contains("builds on itself"), e.getMessage());
        java.nio.file.Files.writeString(b, "base: fmnist-quick\nrun:\n  seed: 9\n");
        assertEquals(3, Settings.resolve(a.toString(), List.of()).getLong("run.seed"), "a preset's own values win over its base");
    }

    @Test
    void aRecipesBlocksAreCheckedByThePipelineThatUsesThem() {
        Settings shallow = Settings.resolve("fmnist-quick", List.of("sra.teacher-block=9"));
        assertEquals("self-transcendence", Pipelines.named("self-transcendence", shallow).name(), "SRA's blocks do not matter here");
        ConfigException e = assertThrows(ConfigException.class, () -> Pipelines.named("sra", shallow));
        assertEquals("sra.teacher-block is 9; accepted: 1 to sit.depth (6)", e.getMessage());
        assertEquals("sra", Pipelines.named("sra", Settings.resolve("fmnist-sra", List.of())).name());
        ConfigException reg = assertThrows(ConfigException.class, () -> Pipelines.named("reg", Settings.resolve("fmnist-quick", List.of())));
        assertEquals("reg.teacher-block is 8; accepted: 1 to sit.depth (6)", reg.getMessage());
    }

    @Test
    void theRegPresetRunsTheRegPipelineOnTheQuickSiT() {
        Settings reg = Settings.resolve("fmnist-reg", List.of());
        assertEquals(128, reg.getInt("sit.hidden"), "from the base, fmnist-quick");
        assertEquals(4, reg.getInt("reg.teacher-block"));
        assertEquals(0.03, reg.getDouble("reg.weight"));
        assertEquals(List.of("import-images", "train-vae", "encode-latents", "warmup-align", "reg-targets", "train-reg", "sample",
                        "train-classifier", "reference-stats", "evaluate"),
                Pipelines.named("reg", reg).stages().stream().map(PipelineStage::name).toList());
    }
}
