package org.transcend.pipelines;

import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.DeadLetter;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.StageRun;
import org.transcend.stages.importing.DatasetException;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bad datasets: each bad record becomes a dead letter naming it and what was expected, counted in the run record,
 * while every good record is kept; a file that cannot be read at all stops the import, naming it.
 */
class BadDatasetsTest {

    @TempDir
    Path tmp;

    private StageRun importing(String... settings) throws Exception {
        return new Orchestrator(new ArtifactStore(tmp.resolve("store").toString()), Settings.resolve(null, List.of(settings)),
                PipelineOptionsFactory.create(), new PrintStream(new ByteArrayOutputStream(), true))
                .run("import", Set.of(), Set.of()).getStages().get(0);
    }

    private <T> List<T> read(StageRun run, Class<T> type, String name) throws IOException {
        List<T> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(tmp.resolve("store").resolve(run.getStage()).resolve(run.getKey()))) {
            for (Path f : files.filter(p -> p.getFileName().toString().startsWith(name + "-")).sorted().toList()) {
                try (DataFileReader<T> r = new DataFileReader<>(f.toFile(), new SpecificDatumReader<>(type))) {
                    r.forEach(out::add);
                }
            }
        }
        return out;
    }

    /** Dead letters by the file name (with any #index) of their source. */
    private Map<String, String> deadLetters(StageRun run) throws IOException {
        Map<String, String> out = new TreeMap<>();
        for (DeadLetter d : read(run, DeadLetter.class, "dead-letters")) {
            String src = d.getSource();
            out.put(src.substring(src.lastIndexOf('/') + 1), d.getReason());
        }
        return out;
    }

    @Test
    void anIdxFileWithTheWrongMagicStopsTheImportNamingFileAndMagic() throws Exception {
        Path data = TestDatasets.fashionMnist(tmp.resolve("fm"), 10, 0, 0x801, i -> i % 10);
        DatasetException e = assertThrows(DatasetException.class, () -> importing("data.path=" + data));
        assertTrue(e.getMessage().contains("train-images-idx3-ubyte.gz: idx magic is 0x801; expected 0x803 (images)"), e.getMessage());
    }

    @Test
    void labelsOutsideTheClassRangeAreDeadLettersAndTheRestAreKept() throws Exception {
        Path data = TestDatasets.fashionMnist(tmp.resolve("fm"), 20, 0, 0x803, i -> i == 3 ? 12 : i == 7 ? 255 : i % 10);
        StageRun run = importing("data.path=" + data);
        assertEquals(18L, run.getCounts().get("images"));
        assertEquals(2L, run.getDeadLetters());
        assertEquals(18, read(run, ImageRecord.class, "images").size());
        Map<String, String> dead = deadLetters(run);
        assertEquals("label 12 outside the class range 0..9", dead.get("train-images-idx3-ubyte.gz#3"));
        assertEquals("label 255 outside the class range 0..9", dead.get("train-images-idx3-ubyte.gz#7"));
    }

    @Test
    void aGzipFileCutShortKeepsTheImagesBeforeTheCutAndDeadLettersTheRest() throws Exception {
        Path data = TestDatasets.fashionMnist(tmp.resolve("fm"), 30, 0);
        // Noise pixels, so the compressed stream is long and a cut leaves a readable prefix, as in a real download.
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (var out = new java.io.DataOutputStream(new java.util.zip.GZIPOutputStream(gz))) {
            out.writeInt(0x803);
            out.writeInt(30);
            out.writeInt(28);
            out.writeInt(28);
            byte[] pixels = new byte[30 * 28 * 28];
            new java.util.Random(1).nextBytes(pixels);
            out.write(pixels);
        }
        Files.write(data.resolve("train-images-idx3-ubyte.gz"), java.util.Arrays.copyOf(gz.toByteArray(), gz.size() * 2 / 3));
        StageRun run = importing("data.path=" + data);
        long kept = run.getCounts().get("images");
        assertTrue(kept > 0 && kept < 30, "kept " + kept);
        assertEquals(30 - kept, run.getDeadLetters());
        assertEquals(kept, read(run, ImageRecord.class, "images").size());
        String reason = deadLetters(run).get("train-images-idx3-ubyte.gz#" + kept);
        assertTrue(reason.contains("truncated idx file") && reason.contains("only the first " + kept + " whole"), reason);
    }

    @Test
    void aCifarBatchCutInsideARecordKeepsTheWholeRecords() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("cifar"));
        int record = 1 + 3 * 32 * 32;
        for (int b = 1; b <= 5; b++) {
            byte[] batch = new byte[2 * record + (b == 1 ? record / 2 : 0)];
            for (int r = 0; r * record < batch.length; r++) batch[r * record] = (byte) (r % 10);
            Files.write(dir.resolve("data_batch_" + b + ".bin"), batch);
        }
        StageRun run = importing("data.source=cifar10", "data.path=" + dir);
        assertEquals(10L, run.getCounts().get("images"));
        assertEquals(1L, run.getDeadLetters());
        String reason = deadLetters(run).get("data_batch_1.bin#2");
        assertTrue(reason.contains("truncated CIFAR-10 batch: 7682 bytes is not a whole number of 3073-byte records"), reason);
    }

    private static void png(Path file, int width, int height) throws IOException {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) for (int x = 0; x < width; x++) img.setRGB(x, y, (x * 7) << 16 | (y * 5) << 8);
        Files.createDirectories(file.getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    @Test
    void anImageFolderKeepsEveryGoodImageAndDeadLettersEachBadFileWithItsReason() throws Exception {
        Path root = tmp.resolve("folder");
        png(root.resolve("boots/a.png"), 16, 16);
        png(root.resolve("boots/wide.png"), 40, 12); // another size: centre-cropped and resized, kept
        png(root.resolve("coats/b.png"), 16, 16);
        Files.write(root.resolve("coats/empty.png"), new byte[0]);
        Files.writeString(root.resolve("coats/notes.txt"), "not an image");
        byte[] whole = Files.readAllBytes(root.resolve("coats/b.png"));
        Files.write(root.resolve("coats/cut.png"), java.util.Arrays.copyOf(whole, whole.length / 2));
        Path outside = tmp.resolve("elsewhere");
        png(outside.resolve("secret.png"), 16, 16);
        Files.createSymbolicLink(root.resolve("boots/escape.png"), outside.resolve("secret.png"));
        Files.createSymbolicLink(root.resolve("linked"), outside);

        StageRun run = importing("data.source=image-folder", "data.path=" + root, "data.resolution=8", "data.channels=1");
        List<ImageRecord> images = read(run, ImageRecord.class, "images");
        assertEquals(List.of("boots/a.png", "boots/wide.png", "coats/b.png"), images.stream().map(ImageRecord::getId).sorted().toList());
        for (ImageRecord r : images) assertEquals(List.of(1L, 8L, 8L), r.getPixels().getShape());
        Map<String, String> dead = deadLetters(run);
        assertEquals(Set.of("empty.png", "notes.txt", "cut.png", "escape.png", "secret.png"), dead.keySet(), dead.toString());
        assertEquals("empty file", dead.get("empty.png"));
        assertTrue(dead.get("notes.txt").startsWith("not a PNG or JPEG image"), dead.get("notes.txt"));
        assertTrue(dead.get("cut.png").startsWith("corrupt image"), dead.get("cut.png"));
        assertTrue(dead.get("escape.png").contains("symbolic link"), dead.get("escape.png"));
        assertTrue(dead.get("secret.png").contains("symbolic link"), dead.get("secret.png"));
        assertEquals(5L, run.getDeadLetters());
    }
}
