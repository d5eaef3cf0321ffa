package org.transcend.pipelines;

import java.nio.file.Path;
import java.util.List;

/** The settings of the tiny Self-Transcendence run the end-to-end tests share: a 160-image slice, networks of a few steps. */
public final class TinyPipeline {
    private TinyPipeline() {}

    /** How many Fashion-MNIST images the tiny slice has. */
    public static final int IMAGES = 160;

    /** The {@code --set} overrides of the tiny run on the Fashion-MNIST directory {@code data}. */
    public static List<String> settings(Path data) {
        return List.of("data.path=" + data, "vae.steps=4", "vae.batch=16", "vae.held-out=16", "vae.checkpoint-every=2",
                "sit.hidden=32", "sit.depth=4", "sit.heads=2", "train.batch=16", "train.log-every=2", "train.checkpoint-every=2",
                "warmup.steps=4", "warmup.block=2", "warmup.head-hidden=32", "teacher.block=3", "teacher.guidance=5",
                "teacher.shard-steps=2", "student.steps=4", "student.block=2", "student.projector-hidden=32", "student.stop-step=3",
                "sample.count=20", "sample.steps=4", "sample.method=euler", "sample.shards=2",
                "eval.classifier-steps=5", "eval.classifier-batch=16", "encode.groups=4");
    }
}
