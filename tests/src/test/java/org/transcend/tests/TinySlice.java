package org.transcend.tests;

import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.transcend.pipelines.Orchestrator;
import org.transcend.pipelines.TestDatasets;
import org.transcend.pipelines.TinyPipeline;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The tiny Fashion-MNIST slice the end-to-end tests run on: 160 images, a VAE trained 4 steps, a SiT of width 32 and
 * depth 4 on 8x8 latents (a 4x4 token grid), 4 training steps per stage, 20 samples of 4 Euler steps.
 */
final class TinySlice {
    private TinySlice() {}

    static final int IMAGES = TinyPipeline.IMAGES;

    static Path data(Path dir) throws IOException {
        return TestDatasets.fashionMnist(dir, IMAGES, 0);
    }

    /** The settings every end-to-end test shares, from the pipelines module's tests. */
    static List<String> settings(Path data) {
        return TinyPipeline.settings(data);
    }

    /** An orchestrator on {@code store} with the settings and then {@code extra}, its log discarded. */
    static Orchestrator orchestrator(Path store, List<String> settings, String... extra) {
        List<String> all = new ArrayList<>(settings);
        all.addAll(List.of(extra));
        return new Orchestrator(new ArtifactStore(store.toString()), Settings.resolve(null, all), PipelineOptionsFactory.create(),
                new PrintStream(new ByteArrayOutputStream(), true));
    }

    static Map<String, StageRun> byStage(RunRecord r) {
        return r.getStages().stream().collect(Collectors.toMap(StageRun::getStage, s -> s));
    }
}
