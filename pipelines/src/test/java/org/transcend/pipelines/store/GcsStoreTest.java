package org.transcend.pipelines.store;

import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import org.apache.beam.sdk.extensions.gcp.options.GcsOptions;
import org.apache.beam.sdk.extensions.gcp.util.InMemoryGcsUtil;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.pipelines.Orchestrator;
import org.transcend.pipelines.TestDatasets;
import org.transcend.pipelines.config.Settings;
import org.transcend.schemas.ArtifactFile;
import org.transcend.schemas.ArtifactManifest;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A whole stage on gs://: the import pipeline reads its dataset from a bucket, writes its records and commits its
 * manifest there, and a rerun hits the cache. GCS is google-cloud-nio's in-memory Storage (no GCS-compatible server
 * can be installed from the package registries this project reaches), seen by Beam's own GcsFileSystem through
 * {@link InMemoryGcsUtil} and by the manifest commit directly, with the does-not-exist precondition added.
 */
class GcsStoreTest {

    private static final String BUCKET = "transcend-test";

    @TempDir
    Path tmp;

    @AfterEach
    void reset() {
        ManifestCommitter.useGcs(null);
        FileSystems.setDefaultPipelineOptions(PipelineOptionsFactory.create());
    }

    @Test
    void theImportStageCommitsUnderGsAndARerunHitsTheCache() throws Exception {
        Storage storage = FakeGcs.create();
        Path fm = TestDatasets.fashionMnist(tmp.resolve("fm"), 24, 0);
        for (String f : List.of("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")) {
            storage.create(BlobInfo.newBuilder(BlobId.of(BUCKET, "fm/" + f)).build(), Files.readAllBytes(fm.resolve(f)));
        }
        PipelineOptions options = PipelineOptionsFactory.create();
        options.as(GcsOptions.class).setGcsUtil(new InMemoryGcsUtil(storage));
        FileSystems.setDefaultPipelineOptions(options);
        ManifestCommitter.useGcs(storage);
        ArtifactStore store = new ArtifactStore("gs://" + BUCKET + "/store");
        Settings settings = Settings.resolve(null, List.of("data.path=gs://" + BUCKET + "/fm", "data.shards=2"));

        RunRecord first = new Orchestrator(store, settings, options, new PrintStream(new ByteArrayOutputStream(), true))
                .run("import", Set.of(), Set.of());
        StageRun built = first.getStages().get(0);
        assertFalse(built.getHit());
        assertEquals(24L, built.getCounts().get("images"));
        ArtifactManifest manifest = store.committed("import-images", built.getKey()).orElseThrow();
        List<String> files = manifest.getFiles().stream().map(f -> f.getPath().toString()).toList();
        assertTrue(files.contains("images-00000-of-00002.avro") && files.contains("images-00001-of-00002.avro"), files.toString());
        for (ArtifactFile f : manifest.getFiles()) {
            assertNotNull(storage.get(BlobId.of(BUCKET, "store/import-images/" + built.getKey() + "/" + f.getPath())), f.getPath() + " in the bucket");
        }
        assertNotNull(storage.get(BlobId.of(BUCKET, "store/import-images/" + built.getKey() + "/" + ArtifactStore.MANIFEST)));

        RunRecord second = new Orchestrator(store, settings, options, new PrintStream(new ByteArrayOutputStream(), true))
                .run("import", Set.of(), Set.of());
        assertTrue(second.getStages().get(0).getHit(), "the rerun reuses the committed artifact");
        assertEquals(built.getKey(), second.getStages().get(0).getKey());
        assertEquals(2, store.runs().size(), "both run records are in the bucket");
    }
}
