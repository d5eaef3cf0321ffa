package org.transcend.runners.cli;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.bench.TrainingStepBenchmark;
import org.transcend.model.sit.SiTForward;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.Callable;

/** Commands on a network alone, outside any pipeline. */
@Command(name = "model", mixinStandardHelpOptions = true, description = "Run a network on its own.",
        subcommands = {ModelCommand.Forward.class, ModelCommand.Benchmark.class})
final class ModelCommand {

    @Command(name = "forward", mixinStandardHelpOptions = true,
            description = "Run a SiT checkpoint (a transcend checkpoint or a PyTorch state_dict as safetensors) on (x, t, y) "
                    + "from a safetensors file; write the output, the conditioning vector c and every block's hidden state.")
    static final class Forward implements Callable<Integer> {
        @Option(names = "--checkpoint", required = true, description = "SiT weights (safetensors, PyTorch names).")
        Path checkpoint;

        @Option(names = "--inputs", required = true, description = "safetensors with x [N,C,H,W], t [N], y [N] (or io.x, io.t, io.y).")
        Path inputs;

        @Option(names = "--out", required = true, description = "Where to write out, c, block1..N and head outputs (safetensors, F32).")
        Path out;

        @Option(names = "--heads", required = true, description = "Attention heads (the file's shapes do not tell them).")
        int heads;

        @Option(names = "--qk-norm", description = "The network uses QK-norm.")
        boolean qkNorm;

        @Option(names = "--projector-block", description = "Block (1-indexed) the projectors.* head reads, if the file has one.")
        Integer projectorBlock;

        @Option(names = "--align-block", description = "Block (1-indexed) the align_head.* head reads, if the file has one.")
        Integer alignBlock;

        @Override
        public Integer call() throws Exception {
            Map<String, INDArray> written = SiTForward.run(checkpoint, inputs, out, heads, qkNorm,
                    projectorBlock == null ? OptionalInt.empty() : OptionalInt.of(projectorBlock),
                    alignBlock == null ? OptionalInt.empty() : OptionalInt.of(alignBlock));
            written.forEach((k, v) -> System.out.printf("%-10s %s%n", k, Arrays.toString(v.shape())));
            System.out.println("wrote " + out);
            return 0;
        }
    }

    @Command(name = "benchmark", mixinStandardHelpOptions = true,
            description = "The SiT-core training-step benchmark (hidden 256, depth 6, 4 heads, 64 tokens, batch 64, projector on "
                    + "block 2, AdamW, clipping, EMA): ms/step, images/s, GFLOP/s, the step's GEMMs alone and their ratio, PyTorch's "
                    + "step measured in the same run (when a python3 with torch is found) and sampling images/s. Not a test.")
    static final class Benchmark implements Callable<Integer> {
        @Option(names = "--steps", defaultValue = "12", description = "Timed steps, after one warm-up step (default: ${DEFAULT-VALUE}).")
        int steps;

        @Override
        public Integer call() {
            if (steps < 1) throw new IllegalArgumentException("--steps is " + steps + "; accepted: 1 or more");
            TrainingStepBenchmark.run(TrainingStepBenchmark.SIT_CORE, steps, System.out);
            return 0;
        }
    }
}
