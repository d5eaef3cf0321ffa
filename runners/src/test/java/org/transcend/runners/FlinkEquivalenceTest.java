package org.transcend.runners;

import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.options.PipelineOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.pipelines.Orchestrator;
import org.transcend.pipelines.TestDatasets;
import org.transcend.pipelines.TinyPipeline;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;
import org.transcend.stages.training.TrainSiT;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/** The tiny Self-Transcendence pipeline on Flink embedded in this JVM builds what the DirectRunner builds, bit for bit. */
class FlinkEquivalenceTest {

    @TempDir
    Path tmp;

    private RunRecord run(Runner runner, Path store, List<String> settings) throws Exception {
        PipelineOptions options = runner.options(List.of(), null);
        FileSystems.setDefaultPipelineOptions(options);
        Orchestrator orchestrator = new Orchestrator(new ArtifactStore(store.toString()), Settings.resolve(null, settings), options,
                new PrintStream(new ByteArrayOutputStream(), true));
        return orchestrator.run("self-transcendence", java.util.Set.of(), java.util.Set.of());
    }

    @Test
    void flinkCommitsTheSameKeysAndTheSameTrainedWeightsAsTheDirectRunner() throws Exception {
        List<String> settings = TinyPipeline.settings(TestDatasets.fashionMnist(tmp.resolve("fm"), TinyPipeline.IMAGES, 0));
        Path direct = tmp.resolve("direct"), flink = tmp.resolve("flink");
        RunRecord onDirect = run(Runner.LOCAL, direct, settings);
        RunRecord onFlink = run(Runner.FLINK, flink, settings);

        for (int i = 0; i < onDirect.getStages().size(); i++) {
            System.out.printf("%-24s direct %6.1f s   flink %6.1f s%n", onDirect.getStages().get(i).getStage(),
                    onDirect.getStages().get(i).getWallMillis() / 1000.0, onFlink.getStages().get(i).getWallMillis() / 1000.0);
        }
        Map<String, String> directKeys = keys(onDirect), flinkKeys = keys(onFlink);
        assertEquals(directKeys, flinkKeys, "the same stages with the same keys");
        Map<String, StageRun> flinkStages = onFlink.getStages().stream().collect(Collectors.toMap(StageRun::getStage, Function.identity()));
        for (StageRun s : onDirect.getStages()) {
            assertFalse(flinkStages.get(s.getStage()).getHit(), s.getStage() + " built on Flink");
            assertTrue(new ArtifactStore(flink.toString()).committed(s.getStage(), s.getKey()).isPresent(), s.getStage() + " committed on Flink");
            assertEquals(s.getCounts(), flinkStages.get(s.getStage()).getCounts(), s.getStage() + " counts");
        }
        for (String stage : List.of("warmup-align", "train-student")) {
            String model = stage + "/" + directKeys.get(stage) + "/" + TrainSiT.MODEL_FILE;
            assertArrayEquals(Files.readAllBytes(direct.resolve(model)), Files.readAllBytes(flink.resolve(model)), stage + " weights bit-identical");
        }
    }

    private static Map<String, String> keys(RunRecord run) {
        return run.getStages().stream().collect(Collectors.toMap(StageRun::getStage, StageRun::getKey));
    }
}
