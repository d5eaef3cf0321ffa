package org.transcend.tests;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.flow.TimeDistribution;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.sit.AlignHead;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTConfig;
import org.transcend.model.train.LatentData;
import org.transcend.model.train.Objective;
import org.transcend.model.train.SiTTrainer;
import org.transcend.model.train.TrainerSettings;
import org.transcend.pipelines.MemoryMeter;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The child process of the memory test: trains a tiny SiT with the warmup's objective the way a training stage
 * does (a checkpoint written every 50 steps), and prints {@code RSS <step> <resident bytes>} at the
 * steps given as arguments after the first two ({@code STEPS CHECKPOINT_DIR}).
 */
public final class TrainingMemoryProbe {
    public static final String LINE = "RSS ";

    private TrainingMemoryProbe() {}

    public static void main(String[] args) throws Exception {
        long steps = Long.parseLong(args[0]);
        Path checkpoint = Path.of(args[1]).resolve("step.safetensors");
        Set<Long> report = new java.util.HashSet<>();
        for (int i = 2; i < args.length; i++) report.add(Long.parseLong(args[i]));

        SiTTrainer trainer = tinyWarmup(steps);
        trainer.train(steps, r -> {
            if (report.contains(r.step())) {
                System.out.println(LINE + r.step() + " " + MemoryMeter.residentBytes());
            }
        }, c -> c.save(checkpoint));
        System.exit(0);
    }

    /** A tiny SiT (width 32, depth 2) with the warmup's objective on 64 random latents, seeded: the same steps in every JVM. */
    static SiTTrainer tinyWarmup(long steps) {
        SiTConfig config = new SiTConfig(8, 2, 4, 32, 2, 2, 4.0, 10, false, 0.1);
        Nd4j.getRandom().setSeed(1);
        int n = 64;
        INDArray mean = Nd4j.randn(DataType.FLOAT, n, 4, 8, 8), std = Nd4j.rand(DataType.FLOAT, n, 4, 8, 8).muli(0.1);
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % 10;
        LatentData data = new LatentData(mean, std, labels, 0.5, 0.0);
        TrainingPlan plan = new TrainingPlan(7, n, 8, new TimeDistribution.Uniform(), TrainingPlan.LABEL_DROP, 10);
        SiT sit = SiT.initialise(config, List.of(), Optional.of(new AlignHead(1, 32)), DataType.FLOAT, 3);
        return new SiTTrainer(sit, plan, data, TrainerSettings.paper(steps, 50),
                new Objective.VaeAlign(1, TimeWindow.ALIGNMENT, 0.5), null);
    }
}
