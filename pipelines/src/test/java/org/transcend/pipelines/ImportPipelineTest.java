package org.transcend.pipelines;

import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.DeadLetter;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class ImportPipelineTest {

    @TempDir
    Path tmp;

    private final PipelineOptions options = PipelineOptionsFactory.create();
    private final ByteArrayOutputStream log = new ByteArrayOutputStream();

    private Orchestrator orchestrator(Path store, String... settings) {
        return new Orchestrator(new ArtifactStore(store.toString()), Settings.resolve(null, List.of(settings)),
                options, new PrintStream(log, true));
    }

    @Test
    void aSecondImportIsACacheHitAndAChangedSubsetMissesAndIsExplained() throws Exception {
        Path data = TestDatasets.fashionMnist(tmp.resolve("fm"), 50, 0);
        Path store = tmp.resolve("store");
        String path = "data.path=" + data;

        RunRecord first = orchestrator(store, path).run("import", Set.of(), Set.of());
        StageRun s1 = first.getStages().get(0);
        assertFalse(s1.getHit());
        assertEquals(50L, s1.getCounts().get("images"));
        assertEquals(50, readAll(store, ImageRecord.class, "images").size());

        assertNotNull(s1.getMemory(), "a built stage reports its peak memory");
        assertTrue(s1.getMemory().getResidentBytes() > 0 && s1.getMemory().getHeapBytes() > 0, s1.getMemory().toString());
        assertEquals(s1.getMemory(), new ArtifactStore(store.toString()).runs().get(0).getStages().get(0).getMemory());

        RunRecord second = orchestrator(store, path).run("import", Set.of(), Set.of());
        assertTrue(second.getStages().get(0).getHit());
        assertNull(second.getStages().get(0).getMemory(), "a hit builds nothing");
        assertEquals(s1.getKey(), second.getStages().get(0).getKey());

        List<String> explained = orchestrator(store, path, "data.limit=20").explain("import");
        String text = String.join("\n", explained);
        assertTrue(text.contains("miss"), text);
        assertTrue(text.contains("setting.data.limit: 0 -> 20"), text);

        RunRecord third = orchestrator(store, path, "data.limit=20").run("import", Set.of(), Set.of());
        assertFalse(third.getStages().get(0).getHit());
        assertEquals(20L, third.getStages().get(0).getCounts().get("images"));
        assertEquals(3, new ArtifactStore(store.toString()).runs().size());
    }

    @Test
    void aTruncatedIdxFileKeepsEveryWholeImageAndDeadLettersTheCutOne() throws Exception {
        Path data = TestDatasets.fashionMnist(tmp.resolve("cut"), 20, 100);
        Path store = tmp.resolve("store");
        StageRun s = orchestrator(store, "data.path=" + data, "data.shards=3").run("import", Set.of(), Set.of()).getStages().get(0);
        assertEquals(19L, s.getCounts().get("images"));
        assertEquals(1L, s.getDeadLetters());
        assertEquals(19, readAll(store, ImageRecord.class, "images").size());
        DeadLetter dead = readAll(store, DeadLetter.class, "dead-letters").get(0);
        assertTrue(dead.getSource().endsWith("train-images-idx3-ubyte.gz#19"), dead.getSource());
        assertTrue(dead.getReason().contains("train-images-idx3-ubyte.gz: truncated idx file: the header declares 20 items of 784 bytes"
                + " but the file holds only the first 19 whole"), dead.getReason());
    }

    @Test
    void anImageFolderWithOneCorruptPngKeepsEveryGoodImageAndCountsOneDeadLetter() throws Exception {
        Path folder = TestDatasets.imageFolder(tmp.resolve("folder"), 3, 1);
        Path store = tmp.resolve("store");
        RunRecord run = orchestrator(store, "data.source=image-folder", "data.path=" + folder, "data.resolution=8",
                "data.channels=1").run("import", Set.of(), Set.of());
        StageRun s = run.getStages().get(0);
        assertEquals(6L, s.getCounts().get("images"));
        assertEquals(1L, s.getDeadLetters());
        List<ImageRecord> images = readAll(store, ImageRecord.class, "images");
        assertEquals(6, images.size());
        assertEquals(List.of(1L, 8L, 8L), images.get(0).getPixels().getShape());
        assertEquals(3, images.stream().filter(r -> r.getLabel() == 0).count()); // boots sorts first
        List<DeadLetter> dead = readAll(store, DeadLetter.class, "dead-letters");
        assertEquals(1, dead.size());
        assertTrue(dead.get(0).getSource().endsWith("coats/broken0.png"), dead.get(0).getSource());
    }

    private static <T> List<T> readAll(Path store, Class<T> type, String name) throws IOException {
        List<T> out = new ArrayList<>();
        List<Path> files;
        try (Stream<Path> s = Files.walk(store)) {
            files = s.filter(p -> p.getFileName().toString().startsWith(name + "-") && p.toString().endsWith(".avro")).toList();
        }
        for (Path f : files) {
            try (DataFileReader<T> r = new DataFileReader<>(new File(f.toString()), new SpecificDatumReader<>(type))) {
                r.forEach(out::add);
            }
        }
        return out;
    }
}
