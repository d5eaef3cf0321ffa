package org.transcend.tests;

import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.transcend.pipelines.Orchestrator;
import org.transcend.pipelines.TestDatasets;
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

    static final int IMAGES = 160;

    static Path data(Path dir) throws IOException {
        return TestDatasets.fashionMnist(dir, IMAGES, 0);
    }

    static List<String> settings(Path data) {
        return List.of("data.path=" + data, "vae.steps=4", "vae.batch=16", "vae.held-out=16", "vae.checkpoint-every=2",
                "sit.hidden=32", "sit.depth=4", "sit.heads=2", "train.batch=16", "train.log-every=2", "train.checkpoint-every=2",
                "warmup.steps=4", "warmup.block=2", "warmup.head-hidden=32", "teacher.block=3", "teacher.guidance=5",
                "teacher.shard-steps=2", "student.steps=4", "student.block=2", "student.projector-hidden=32", "student.stop-step=3",
                "sample.count=20", "sample.steps=4", "sample.method=euler", "sample.shards=2",
                "eval.classifier-steps=5", "eval.classifier-batch=16", "encode.groups=4");
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
