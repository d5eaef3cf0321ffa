package org.transcend.model.sit;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.io.Safetensors;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;

/**
 * One forward pass of a SiT checkpoint on inputs from a file, every intermediate written out: the entry point
 * behind {@code transcend model forward}, and the way to compare this implementation with PyTorch's.
 */
public final class SiTForward {

    private SiTForward() {}

    /**
     * Reads a safetensors SiT state_dict ({@code io.*} tensors in it are ignored, so a reference fixture serves
     * as its own checkpoint) and an inputs file with {@code x} [N, C, H, W], {@code t} [N] and {@code y}, either
     * integer labels [N] or one-hot rows [N, numClasses + 1] (each also accepted as {@code io.x}, {@code io.t},
     * {@code io.y}), and for a SiT with REG's global token {@code g} [N, Dg]; writes {@code out}, {@code c},
     * {@code block1} … {@code blockN}, {@code z0} … for the projectors, {@code align} for the align head and
     * {@code global} (v̂_g) for the global token to {@code out} as float32, and returns them.
     */
    public static Map<String, INDArray> run(Path checkpoint, Path inputs, Path out, int heads, boolean qkNorm,
                                            OptionalInt projectorBlock, OptionalInt alignBlock) throws IOException {
        // A transcend training checkpoint also holds EMA weights and optimiser moments; the raw weights are the network.
        java.util.function.Predicate<String> notNetwork = name -> name.startsWith("io.") || name.startsWith("ema.") || name.startsWith("adam.");
        Map<String, long[]> shapes = new LinkedHashMap<>(Safetensors.shapes(checkpoint));
        shapes.keySet().removeIf(notNetwork);
        SiT.checkStateDict(shapes, heads, qkNorm, projectorBlock, alignBlock);
        Map<String, INDArray> weights = new LinkedHashMap<>(Safetensors.read(checkpoint).tensors());
        weights.keySet().removeIf(notNetwork);
        SiT sit = SiT.fromStateDict(weights, heads, qkNorm, projectorBlock, alignBlock);
        SiTConfig config = sit.config();

        Map<String, INDArray> in = Safetensors.read(inputs).tensors();
        INDArray x = input(in, "x", inputs);
        INDArray t = input(in, "t", inputs);
        INDArray y = labels(sit, input(in, "y", inputs), inputs);
        long n = x.size(0);
        long[] xShape = {n, config.inChannels(), config.inputSize(), config.inputSize()};
        if (!Arrays.equals(x.shape(), xShape)) {
            throw new IllegalArgumentException(inputs + ": x has shape " + Arrays.toString(x.shape()) + ", expected " + Arrays.toString(xShape));
        }
        if (t.rank() != 1 || t.size(0) != n || y.size(0) != n) {
            throw new IllegalArgumentException(inputs + ": t " + Arrays.toString(t.shape()) + " and y " + Arrays.toString(y.shape())
                    + " must hold one entry per image of x (" + n + ")");
        }

        Map<String, INDArray> feed = new LinkedHashMap<>(Map.of("x", x.castTo(DataType.FLOAT), "t", t.castTo(DataType.FLOAT), "y", y));
        SameDiff sd = SameDiff.create();
        SDVariable g = null;
        if (config.hasGlobalToken()) {
            INDArray global = input(in, "g", inputs);
            if (!Arrays.equals(global.shape(), new long[]{n, config.globalDim()})) {
                throw new IllegalArgumentException(inputs + ": g has shape " + Arrays.toString(global.shape()) + ", expected ["
                        + n + ", " + config.globalDim() + "] (REG's noised global feature of each image)");
            }
            feed.put("g", global.castTo(DataType.FLOAT));
            g = sd.placeHolder("g", DataType.FLOAT, -1, config.globalDim());
        }
        SiTOutputs o = sit.build(sd,
                sd.placeHolder("x", DataType.FLOAT, -1, config.inChannels(), config.inputSize(), config.inputSize()), g,
                sd.placeHolder("t", DataType.FLOAT, -1),
                sd.placeHolder("y", DataType.FLOAT, -1, config.labelRows()), SiT.Wiring.full(config.depth()));
        Map<String, SDVariable> wanted = new LinkedHashMap<>();
        wanted.put("out", o.out().orElseThrow());
        wanted.put("c", o.c());
        for (int k = 1; k <= o.blocks().size(); k++) wanted.put("block" + k, o.block(k));
        for (int j = 0; j < o.projections().size(); j++) wanted.put("z" + j, o.projections().get(j));
        o.align().ifPresent(a -> wanted.put("align", a));
        o.global().ifPresent(a -> wanted.put("global", a));

        Map<String, INDArray> computed = sd.output(feed, wanted.values().stream().map(SDVariable::name).toArray(String[]::new));
        Map<String, INDArray> results = new LinkedHashMap<>();
        wanted.forEach((name, v) -> results.put(name, computed.get(v.name())));
        Safetensors.write(out, results, Map.of("config", config.toString(), "checkpoint", checkpoint.getFileName().toString()),
                Safetensors.Dtype.F32);
        return results;
    }

    private static INDArray input(Map<String, INDArray> tensors, String name, Path file) {
        INDArray a = tensors.containsKey(name) ? tensors.get(name) : tensors.get("io." + name);
        if (a == null) {
            throw new IllegalArgumentException(file + ": no tensor '" + name + "' or 'io." + name + "'; it holds " + tensors.keySet());
        }
        return a;
    }

    /** Integer labels [N] become one-hot rows; one-hot rows [N, numClasses + 1] pass through. */
    private static INDArray labels(SiT sit, INDArray y, Path file) {
        if (y.rank() == 2 && y.size(1) == sit.config().labelRows()) {
            return y.castTo(DataType.FLOAT);
        }
        if (y.rank() == 1) {
            double[] values = y.toDoubleVector();
            long[] labels = new long[values.length];
            for (int i = 0; i < values.length; i++) {
                labels[i] = (long) values[i];
                if (labels[i] != values[i]) {
                    throw new IllegalArgumentException(file + ": label " + values[i] + " at position " + i + " is not an integer");
                }
            }
            return sit.oneHot(labels).castTo(DataType.FLOAT);
        }
        throw new IllegalArgumentException(file + ": y has shape " + Arrays.toString(y.shape()) + "; accepted: labels [N] or one-hot rows [N, "
                + sit.config().labelRows() + "]");
    }
}
