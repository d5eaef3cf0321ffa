package org.transcend.tests;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.train.Checkpoint;
import org.transcend.pipelines.Orchestrator;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The whole Self-Transcendence pipeline and its baseline on a tiny Fashion-MNIST slice, on the DirectRunner. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SelfTranscendencePipelineTest {

    @TempDir
    static Path tmp;

    static Path store;
    static List<String> tiny;

    @BeforeAll
    static void data() throws Exception {
        Path fm = TinySlice.data(tmp.resolve("fm"));
        store = tmp.resolve("store");
        tiny = new ArrayList<>(TinySlice.settings(fm));
        tiny.add("train.preview-every=4");
    }

    private Orchestrator orchestrator(String... extra) {
        return TinySlice.orchestrator(store, tiny, extra);
    }

    private static Map<String, StageRun> byStage(RunRecord r) {
        return TinySlice.byStage(r);
    }

    @Test
    @Order(1)
    void theWholePipelineCommitsEveryArtifactWithTheRightCounts() throws Exception {
        RunRecord run = orchestrator().run("self-transcendence", Set.of(), Set.of());
        Map<String, StageRun> s = byStage(run);
        assertEquals(List.of("import-images", "train-vae", "encode-latents", "warmup-align", "teacher-targets", "train-student",
                "sample", "train-classifier", "reference-stats", "evaluate"), run.getStages().stream().map(StageRun::getStage).toList());
        for (StageRun st : run.getStages()) {
            assertFalse(st.getHit(), st.getStage() + " should be built on a fresh store");
            assertTrue(new ArtifactStore(store.toString()).committed(st.getStage(), st.getKey()).isPresent(), st.getStage() + " committed");
        }
        assertEquals(160L, s.get("import-images").getCounts().get("images"));
        assertEquals(160L, s.get("encode-latents").getCounts().get("latents"));
        assertEquals(4L, s.get("warmup-align").getCounts().get("steps"));
        assertEquals(4L, s.get("train-student").getCounts().get("steps"));
        assertEquals(20L, s.get("sample").getCounts().get("samples"));
        // The guided term covers steps 0..2 (stop step 3); the teacher ran once per step that had a slot in the mask.
        long passes = s.get("teacher-targets").getCounts().getOrDefault("teacher_forward_passes", 0L);
        assertTrue(passes >= 1 && passes <= 3, "teacher passes " + passes);
        assertTrue(s.get("teacher-targets").getCounts().get("targets") > 0, "targets kept");
        Path preview = store.resolve("train-student").resolve(s.get("train-student").getKey()).resolve("previews/step-000004.png");
        assertTrue(Files.size(preview) > 100, "the student's preview grid at its last step");
        Path sampleDir = store.resolve("sample").resolve(s.get("sample").getKey());
        assertTrue(Files.size(sampleDir.resolve("grid.png")) > 100);
        var npz = org.transcend.stages.io.Npz.read(sampleDir.resolve("samples.npz"), "arr_0", "arr_1");
        assertArrayEquals(new long[]{20, 28, 28, 1}, npz.get("arr_0").shape(), "ADM-style uint8 NHWC samples, cropped back to 28x28");
        assertArrayEquals(new long[]{20}, npz.get("arr_1").shape());
        assertTrue(s.get("evaluate").getMetrics().keySet().stream().anyMatch(k -> k.startsWith("FD-")), s.get("evaluate").getMetrics().toString());
    }

    @Test
    @Order(2)
    void aRerunIsAllCacheHits() throws Exception {
        RunRecord run = orchestrator().run("self-transcendence", Set.of(), Set.of());
        for (StageRun st : run.getStages()) assertTrue(st.getHit(), st.getStage() + " should be a hit");
    }

    @Test
    @Order(3)
    void changingTheStudentsWeightOrBlockReusesTheTeacherTargets() throws Exception {
        RunRecord run = orchestrator("student.weight=0.25", "student.block=1").run("self-transcendence", Set.of(), Set.of());
        Map<String, StageRun> s = byStage(run);
        assertTrue(s.get("teacher-targets").getHit());
        assertTrue(s.get("warmup-align").getHit());
        assertFalse(s.get("train-student").getHit());
        assertEquals(0L, s.get("train-student").getCounts().getOrDefault("teacher_forward_passes", 0L), "the teacher ran");
    }

    @Test
    @Order(4)
    void theBaselineReusesTheImportTheVaeAndTheLatents() throws Exception {
        RunRecord run = orchestrator().run("baseline", Set.of(), Set.of());
        Map<String, StageRun> s = byStage(run);
        assertTrue(s.get("import-images").getHit());
        assertTrue(s.get("train-vae").getHit());
        assertTrue(s.get("encode-latents").getHit());
        assertFalse(s.get("train-baseline").getHit());
        assertTrue(s.get("train-classifier").getHit());
        assertTrue(s.get("reference-stats").getHit(), "both models are measured against one set of reference statistics");
    }

    @Test
    @Order(5)
    void aSingleStageRerunsAloneFromTheStore() throws Exception {
        RunRecord run = orchestrator("sample.count=10").run("self-transcendence", Set.of(), Set.of("sample"));
        assertEquals(List.of("sample"), run.getStages().stream().map(StageRun::getStage).toList());
        assertEquals(10L, run.getStages().get(0).getCounts().get("samples"));
    }

    @Test
    @Order(6)
    void theOnlineTeacherTrainsTheSameStudentAsTheCachedTargets() throws Exception {
        StageRun cached = byStage(orchestrator().run("self-transcendence", Set.of(), Set.of("train-student"))).get("train-student");
        assertTrue(cached.getHit());
        StageRun online = byStage(orchestrator("teacher.mode=online").run("self-transcendence", Set.of(), Set.of("train-student")))
                .get("train-student");
        assertFalse(online.getHit(), "the teacher mode is part of the student's key");
        assertTrue(online.getCounts().get("teacher_forward_passes") > 0, "the teacher ran in the loop");
        Map<String, INDArray> a = Checkpoint.load(store.resolve("train-student").resolve(cached.getKey()).resolve("model.safetensors")).weights();
        Map<String, INDArray> b = Checkpoint.load(store.resolve("train-student").resolve(online.getKey()).resolve("model.safetensors")).weights();
        assertEquals(a.keySet(), b.keySet());
        for (String name : a.keySet()) assertEquals(a.get(name), b.get(name), name + " differs between cached and online teacher");
    }
}
