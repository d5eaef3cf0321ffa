package org.transcend.tests;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.pipelines.Orchestrator;
import org.transcend.runners.cli.Transcend;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.io.Npz;
import org.transcend.stages.io.Tensors;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The other recipes of the seed papers (REPA, SRA, REG, RAE's time shift and DiT-DH head, JiT) as settings of the same stages, each run end to end
 * on the tiny Fashion-MNIST slice of {@link SelfTranscendencePipelineTest}, sharing one store so the import, the VAE and
 * the latents are built once.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RecipesPipelineTest {

    @TempDir
    static Path tmp;

    static Path store;
    static List<String> tiny;
    /** The SiT of the tiny settings sees 8x8 latents in 2x2 patches: a 4x4 grid of tokens. */
    static final int GRID = 4;
    static final int FEATURE_DIM = 12;

    @BeforeAll
    static void data() throws Exception {
        Path fm = TinySlice.data(tmp.resolve("fm"));
        store = tmp.resolve("store");
        tiny = new ArrayList<>(TinySlice.settings(fm));
        tiny.addAll(List.of("repa.block=2", "repa.projector-hidden=32", "sra.student-block=1", "sra.teacher-block=3", "reg.teacher-block=3"));
    }

    private Orchestrator orchestrator(String... extra) {
        return TinySlice.orchestrator(store, tiny, extra);
    }

    private static Map<String, StageRun> byStage(RunRecord r) {
        return TinySlice.byStage(r);
    }

    private static double number(String jsonLine, String field) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + field + "\":([-0-9.eE+]+)").matcher(jsonLine);
        assertTrue(m.find(), field + " in " + jsonLine);
        return Double.parseDouble(m.group(1));
    }

    /** Each of the 4 steps logged a negative cosine in [−1, 1], weighted 0.5 in the total loss. */
    private static void assertCosineTermEveryStep(StageRun training, String term) throws Exception {
        List<String> metrics = Files.readAllLines(artifact(training).resolve("metrics.jsonl"));
        assertEquals(4, metrics.size());
        for (String line : metrics) {
            double cosine = number(line, term), flow = number(line, "loss_flow");
            assertTrue(cosine >= -1 && cosine <= 1, "a negative cosine: " + line);
            assertEquals(flow + 0.5 * cosine, number(line, "loss"), 1e-5 * Math.abs(flow), "weight 0.5: " + line);
        }
    }

    private static Path artifact(StageRun s) {
        return store.resolve(s.getStage()).resolve(s.getKey());
    }

    /**
     * A stand-in for DINOv2 patch tokens, legitimate for a test: each image cut into a GRID x GRID grid of pixel
     * patches, each patch projected by one fixed random matrix to FEATURE_DIM values. Features of similar patches are
     * similar, as an encoder's would be; {@code extraIds} adds rows for images that were never imported.
     */
    static Path featureFile(Path file, int grid, int extraIds) throws Exception {
        List<ImageRecord> images = Handoffs.readAll(store.resolve("import-images").toString() + "/"
                + Files.list(store.resolve("import-images")).filter(Files::isDirectory).findFirst().orElseThrow().getFileName() + "/",
                "images", ImageRecord.class);
        images.sort(Comparator.comparing(r -> r.getId().toString()));
        long[] chw = Tensors.shape(images.get(0).getPixels());
        int side = (int) chw[1] / grid, patchValues = (int) chw[0] * side * side;
        SplittableRandom random = new SplittableRandom(17);
        double[] projection = new double[patchValues * FEATURE_DIM];
        for (int i = 0; i < projection.length; i++) projection[i] = random.nextGaussian() / Math.sqrt(patchValues);
        int n = images.size() + extraIds;
        float[] features = new float[n * grid * grid * FEATURE_DIM];
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids.add(i < images.size() ? images.get(i).getId().toString() : "not-imported-" + i);
            byte[] px = Tensors.bytes(images.get(i % images.size()).getPixels());
            for (int gy = 0; gy < grid; gy++) {
                for (int gx = 0; gx < grid; gx++) {
                    int token = gy * grid + gx;
                    for (int f = 0; f < FEATURE_DIM; f++) {
                        double sum = 0;
                        int k = 0;
                        for (int c = 0; c < chw[0]; c++) {
                            for (int y = 0; y < side; y++) {
                                for (int x = 0; x < side; x++) {
                                    int at = (int) (c * chw[1] * chw[2] + (gy * side + y) * chw[2] + gx * side + x);
                                    sum += ((px[at] & 0xFF) / 127.5 - 1) * projection[(k++) * FEATURE_DIM + f];
                                }
                            }
                        }
                        features[((i * grid * grid) + token) * FEATURE_DIM + f] = (float) sum;
                    }
                }
            }
        }
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * features.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(features);
        Npz.write(file, Map.of("features", new Npz.Array(Npz.Dtype.FLOAT32, new long[]{n, (long) grid * grid, FEATURE_DIM}, b.array())),
                Map.of("ids", ids));
        return file;
    }

    @Test
    @Order(1)
    void repaTrainsAgainstPerImageFeaturesCachedOnceAndIsEvaluated() throws Exception {
        orchestrator().run("import", Set.of(), Set.of());
        Path features = featureFile(tmp.resolve("repa.npz"), GRID, 5);
        RunRecord run = orchestrator("repa.features=" + features).run("repa", Set.of(), Set.of());
        Map<String, StageRun> s = byStage(run);
        assertEquals(List.of("import-images", "train-vae", "encode-latents", "repa-targets", "train-repa", "sample",
                "train-classifier", "reference-stats", "evaluate"), run.getStages().stream().map(StageRun::getStage).toList());
        assertEquals((long) TinySlice.IMAGES, s.get("repa-targets").getCounts().get("features"));
        assertEquals(5L, s.get("repa-targets").getCounts().get("unused_rows"), "rows of images that were not imported");
        assertEquals(4L, s.get("train-repa").getCounts().get("steps"));
        assertCosineTermEveryStep(s.get("train-repa"), "loss_repa");
        assertEquals(20L, s.get("sample").getCounts().get("samples"));
        assertTrue(s.get("evaluate").getMetrics().keySet().stream().anyMatch(k -> k.startsWith("FD-")));

        RunRecord changed = orchestrator("repa.features=" + features, "repa.weight=0.25").run("repa", Set.of(), Set.of());
        assertTrue(byStage(changed).get("repa-targets").getHit(), "the per-image cache does not depend on the loss weight");
        assertFalse(byStage(changed).get("train-repa").getHit());
    }

    @Test
    @Order(2)
    void aFeatureFileMissingAnImageOrOnAnotherGridIsRefusedNamingWhatIsWrong() throws Exception {
        Path wrongGrid = featureFile(tmp.resolve("grid2.npz"), 2, 0);
        IllegalArgumentException grid = assertThrows(IllegalArgumentException.class,
                () -> orchestrator("repa.features=" + wrongGrid).run("repa", Set.of(), Set.of()));
        assertTrue(grid.getMessage().contains("has 4 tokens per image, but the SiT sees 16"), grid.getMessage());
        assertTrue(grid.getMessage().contains("[N, 16, Dz]"), grid.getMessage());

        Path full = featureFile(tmp.resolve("full.npz"), GRID, 0);
        Map<String, Npz.Array> arrays = Npz.read(full, "features");
        List<String> ids = new ArrayList<>(Npz.readStrings(full, "ids"));
        String dropped = ids.get(7);
        ids.set(7, "someone-else");
        Path missing = tmp.resolve("missing.npz");
        Npz.write(missing, arrays, Map.of("ids", ids));
        IllegalArgumentException id = assertThrows(IllegalArgumentException.class,
                () -> orchestrator("repa.features=" + missing).run("repa", Set.of(), Set.of()));
        assertTrue(id.getMessage().contains("no row for image '" + dropped + "'"), id.getMessage());
    }

    @Test
    @Order(3)
    void theTimeShiftRetrainsAndResamplesButReusesTheLatents() throws Exception {
        Map<String, StageRun> plain = byStage(orchestrator().run("baseline", Set.of(), Set.of()));
        Map<String, StageRun> shifted = byStage(orchestrator("time-shift.base-dim=64").run("baseline", Set.of(), Set.of()));
        assertTrue(shifted.get("encode-latents").getHit());
        assertFalse(shifted.get("train-baseline").getHit());
        assertFalse(shifted.get("sample").getHit());
        assertNotEquals(plain.get("train-baseline").getKey(), shifted.get("train-baseline").getKey());
        // 4·8·8 = 256 latent values against a base of 64: α = 2, so the plan's times move towards noise
        assertTrue(shifted.get("evaluate").getMetrics().keySet().stream().anyMatch(k -> k.startsWith("FD-")));
        List<String> a = Files.readAllLines(artifact(plain.get("train-baseline")).resolve("metrics.jsonl"));
        List<String> b = Files.readAllLines(artifact(shifted.get("train-baseline")).resolve("metrics.jsonl"));
        assertNotEquals(a.get(0).replaceAll("\"images_per_s\":[^,]*", ""), b.get(0).replaceAll("\"images_per_s\":[^,]*", ""),
                "the same batch at shifted times has another loss");
    }

    @Test
    @Order(4)
    void sraTrainsAgainstItsOwnEmaAndIsEvaluated() throws Exception {
        RunRecord run = orchestrator("train.ema-decay=0.5").run("sra", Set.of(), Set.of());
        Map<String, StageRun> s = byStage(run);
        assertEquals(List.of("import-images", "train-vae", "encode-latents", "train-sra", "sample", "train-classifier", "reference-stats", "evaluate"),
                run.getStages().stream().map(StageRun::getStage).toList());
        assertTrue(s.get("encode-latents").getHit());
        assertEquals(4L, s.get("train-sra").getCounts().get("steps"));
        assertCosineTermEveryStep(s.get("train-sra"), "loss_sra");
        assertEquals(20L, s.get("sample").getCounts().get("samples"));
        assertTrue(s.get("evaluate").getMetrics().keySet().stream().anyMatch(k -> k.startsWith("FD-")));
    }

    /**
     * REG: the warmup teacher's block-3 tokens pooled on each clean latent are cached per image as g; the SiT carries the
     * noised g as one extra token, trains on loss_flow + 0.03·loss_reg, samples (the token with the image) and is evaluated.
     */
    @Test
    @Order(5)
    void regTrainsWithTheTeachersPooledFeatureAsAGlobalTokenAndIsEvaluated() throws Exception {
        RunRecord run = orchestrator("train.preview-every=2").run("reg", Set.of(), Set.of());
        Map<String, StageRun> s = byStage(run);
        assertEquals(List.of("import-images", "train-vae", "encode-latents", "warmup-align", "reg-targets", "train-reg", "sample",
                "train-classifier", "reference-stats", "evaluate"), run.getStages().stream().map(StageRun::getStage).toList());
        assertTrue(s.get("encode-latents").getHit());
        assertEquals((long) TinySlice.IMAGES, s.get("reg-targets").getCounts().get("features"));

        // every cached g is the warmup's raw weights run to block 3 on the clean latent at t = 0, pooled over the 16 tokens
        String latents = artifact(s.get("encode-latents")) + "/";
        List<String> ids = org.transcend.stages.latents.Latents.ids(latents);
        org.nd4j.linalg.api.ndarray.INDArray g = org.transcend.stages.representation.PatchFeatureTargets.inOrder(artifact(s.get("reg-targets")) + "/", ids);
        assertArrayEquals(new long[]{TinySlice.IMAGES, 1, 32}, g.shape());
        var warmup = org.transcend.model.train.Checkpoint.load(artifact(s.get("warmup-align")).resolve("model.safetensors"));
        var teacher = new org.transcend.model.train.GlobalFeatureTeacher(org.transcend.model.sit.SiT.fromStateDict(warmup.weights(), 2, false,
                java.util.OptionalInt.empty(), java.util.OptionalInt.of(2)), 3);
        org.transcend.model.train.LatentData data = org.transcend.stages.latents.Latents.load(latents);
        org.nd4j.linalg.api.ndarray.INDArray x0 = data.mean().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 3)).sub(data.shift()).muli(data.scale());
        org.nd4j.linalg.api.ndarray.INDArray expected = teacher.features(x0, new long[]{data.labels()[0], data.labels()[1], data.labels()[2]});
        for (int i = 0; i < 3; i++) {
            assertEquals(0, expected.getRow(i).sub(g.slice(i).reshape(32)).amaxNumber().doubleValue(), 1e-5, "g of " + ids.get(i));
        }

        assertEquals(4L, s.get("train-reg").getCounts().get("steps"));
        List<String> metrics = Files.readAllLines(artifact(s.get("train-reg")).resolve("metrics.jsonl"));
        assertEquals(4, metrics.size());
        for (String line : metrics) {
            double reg = number(line, "loss_reg"), flow = number(line, "loss_flow");
            assertTrue(reg > 0, "a squared error: " + line);
            assertEquals(flow + 0.03 * reg, number(line, "loss"), 1e-5 * (flow + reg), "weight 0.03: " + line);
        }
        var model = org.transcend.model.train.Checkpoint.load(artifact(s.get("train-reg")).resolve("model.safetensors"));
        assertArrayEquals(new long[]{32, 32}, model.weights().get("cls_projectors2.weight").shape());
        assertArrayEquals(new long[]{32, 32}, model.weights().get("linear_cls.weight").shape());
        assertTrue(Files.exists(artifact(s.get("train-reg")).resolve("previews/step-000002.png")), "the preview grid samples the token too");
        assertEquals(20L, s.get("sample").getCounts().get("samples"));
        assertTrue(s.get("evaluate").getMetrics().keySet().stream().anyMatch(k -> k.startsWith("FD-")));

        RunRecord changed = orchestrator("reg.weight=0.1").run("reg", Set.of(), Set.of());
        assertTrue(byStage(changed).get("reg-targets").getHit(), "the per-image cache does not depend on the loss weight");
        assertFalse(byStage(changed).get("train-reg").getHit());
        RunRecord deeper = orchestrator("reg.teacher-block=4").run("reg", Set.of(), Set.of());
        assertTrue(byStage(deeper).get("warmup-align").getHit());
        assertFalse(byStage(deeper).get("reg-targets").getHit(), "another block is another g");
    }

    /** The CLI's compare on four recipes, evaluated after 2 and 4 steps: a table, CSV, JSON and a readable plot. */
    @Test
    @Order(6)
    void compareRacesRecipesOnOnePlanAndWritesATableAndAPlot() throws Exception {
        List<String> args = new ArrayList<>(List.of("run", "compare", "--recipes", "vanilla,vae-align,sra,reg", "--store", store.toString()));
        for (String setting : tiny) args.addAll(List.of("--set", setting));
        args.addAll(List.of("--set", "compare.eval-every=2"));
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        assertEquals(0, Transcend.execute(new PrintStream(printed, true), args.toArray(String[]::new)), printed.toString());

        List<Path> runs;
        try (var dirs = Files.list(store.resolve("_compare"))) {
            runs = dirs.toList();
        }
        assertEquals(1, runs.size());
        Path out = runs.get(0);
        List<String> table = Files.readAllLines(out.resolve("table.txt"));
        assertTrue(table.get(0).startsWith("FD-fmnist-classifier against training steps"), table.get(0));
        assertEquals(List.of("step", "vanilla", "vae-align", "sra", "reg"), List.of(table.get(1).trim().split("\\s+")));
        assertEquals(List.of("2", "4"), table.subList(2, 4).stream().map(l -> l.trim().split("\\s+")[0]).toList());
        for (String row : table.subList(2, 4)) {
            for (String cell : List.of(row.trim().split("\\s+")).subList(1, 5)) assertTrue(Double.parseDouble(cell) >= 0, row);
        }
        List<String> csv = Files.readAllLines(out.resolve("distances.csv"));
        assertEquals(1 + 4 * 2, csv.size());
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve("distances.json").toFile());
        assertEquals(8, json.size());
        for (var point : json) {
            assertTrue(new ArtifactStore(store.toString()).committed("evaluate", point.get("evaluateKey").asText()).isPresent());
        }
        java.awt.image.BufferedImage plot = javax.imageio.ImageIO.read(out.resolve("distances.png").toFile());
        assertEquals(900, plot.getWidth());
        assertEquals(560, plot.getHeight());

        // the two evaluation points of one recipe share its training, and sample different checkpoints
        Map<String, List<String>> keysByStage = new java.util.HashMap<>();
        for (var point : json) keysByStage.computeIfAbsent(point.get("recipe").asText(), r -> new ArrayList<>()).add(point.get("evaluateKey").asText());
        keysByStage.values().forEach(keys -> assertEquals(2, new java.util.HashSet<>(keys).size()));
    }

    /** JiT: no VAE (the latents are the padded pixels, scale 1), 4x4 patches through a low-rank embedding, x-prediction. */
    @Test
    @Order(7)
    void jitTrainsInPixelSpaceWithoutAVae() throws Exception {
        RunRecord run = orchestrator("latents.space=pixels", "sit.patch=4", "sit.bottleneck=8", "sit.prediction=x0")
                .run("baseline", Set.of(), Set.of());
        Map<String, StageRun> s = byStage(run);
        assertEquals(List.of("import-images", "encode-latents", "train-baseline", "sample", "train-classifier", "reference-stats", "evaluate"),
                run.getStages().stream().map(StageRun::getStage).toList(), "no VAE is trained");
        assertTrue(s.get("import-images").getHit());
        assertFalse(s.get("encode-latents").getHit(), "pixel latents are another artifact than the VAE's");
        assertEquals(1.0, s.get("encode-latents").getMetrics().get("latent_scale"));
        String latents = artifact(s.get("encode-latents")) + "/";
        assertEquals(new org.transcend.stages.latents.Latents.Shape(1, 32, 10), org.transcend.stages.latents.Latents.shape(latents));
        org.transcend.model.train.LatentData data = org.transcend.stages.latents.Latents.load(latents);
        assertEquals(0.0, data.std().amaxNumber().doubleValue(), "the identity encoder is certain");
        assertEquals(-1.0, data.mean().getDouble(0, 0, 0, 0), "the padding is black");
        var checkpoint = org.transcend.model.train.Checkpoint.load(artifact(s.get("train-baseline")).resolve("model.safetensors"));
        assertArrayEquals(new long[]{8, 1, 4, 4}, checkpoint.weights().get("x_embedder.proj1.weight").shape());
        assertArrayEquals(new long[]{32, 8, 1, 1}, checkpoint.weights().get("x_embedder.proj2.weight").shape());
        assertEquals(20L, s.get("sample").getCounts().get("samples"));
        var npz = Npz.read(artifact(s.get("sample")).resolve("samples.npz"), "arr_0");
        assertArrayEquals(new long[]{20, 28, 28, 1}, npz.get("arr_0").shape(), "samples cropped back to 28x28");
        assertTrue(s.get("evaluate").getMetrics().keySet().stream().anyMatch(k -> k.startsWith("FD-")));
    }

    /** RAE's DiT-DH head: the baseline with a wide, shallow head after the backbone, trained, sampled and evaluated. */
    @Test
    @Order(8)
    void theDhHeadTrainsSamplesAndIsEvaluated() throws Exception {
        RunRecord run = orchestrator("sit.head-width=48", "sit.head-depth=1", "sit.head-heads=3").run("baseline", Set.of(), Set.of());
        Map<String, StageRun> s = byStage(run);
        assertFalse(s.get("train-baseline").getHit(), "the head changes the network, so the key");
        var checkpoint = org.transcend.model.train.Checkpoint.load(artifact(s.get("train-baseline")).resolve("model.safetensors"));
        assertArrayEquals(new long[]{48, 32}, checkpoint.weights().get("s_projector.weight").shape());
        assertArrayEquals(new long[]{144, 48}, checkpoint.weights().get("head_blocks.0.attn.qkv.weight").shape());
        assertFalse(checkpoint.weights().containsKey("final_layer.linear.weight"), "the head replaces the final layer");
        assertEquals(20L, s.get("sample").getCounts().get("samples"));
        assertTrue(s.get("evaluate").getMetrics().keySet().stream().anyMatch(k -> k.startsWith("FD-")));
    }
}
