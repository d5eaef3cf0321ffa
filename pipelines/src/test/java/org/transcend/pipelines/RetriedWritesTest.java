package org.transcend.pipelines;

import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.steps.ImportStep;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.ImageRecord;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A parallel stage whose work is done twice into one artifact directory (a runner retrying its bundles, or a rerun
 * after a crash before the commit) leaves the same files, each record once.
 */
class RetriedWritesTest {

    @TempDir
    Path tmp;

    @Test
    void importingTwiceIntoOneDirectoryLeavesTheSameFilesWithEachImageOnce() throws Exception {
        Path data = TestDatasets.fashionMnist(tmp.resolve("fm"), 50, 0);
        Settings settings = Settings.resolve(null, List.of("data.path=" + data, "data.shards=3"));
        String out = tmp.resolve("store/import-images/k").toString() + "/";
        StageContext ctx = new StageContext(settings, new ArtifactStore(tmp.resolve("store").toString()), "k", out, Map.of(), Map.of(),
                PipelineOptionsFactory.create());
        new ImportStep().build(ctx);
        List<String> firstFiles = files(out);
        List<String> firstIds = ids(out);
        new ImportStep().build(ctx);
        assertEquals(firstFiles, files(out), "the same file names, none added");
        List<String> ids = ids(out);
        assertEquals(50, ids.size(), "each image once");
        assertEquals(firstIds, ids);
    }

    private static List<String> files(String dir) throws IOException {
        try (Stream<Path> s = Files.list(Path.of(dir))) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static List<String> ids(String dir) throws IOException {
        List<String> ids = new ArrayList<>();
        for (String f : files(dir)) {
            if (!f.startsWith(ImportStep.IMAGES + "-")) continue;
            try (DataFileReader<ImageRecord> r = new DataFileReader<>(Path.of(dir, f).toFile(), new SpecificDatumReader<>(ImageRecord.class))) {
                r.forEach(rec -> ids.add(rec.getId()));
            }
        }
        ids.sort(null);
        return ids;
    }
}
