package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.io.Safetensors;
import org.transcend.model.io.WeightsFileException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A training checkpoint as one safetensors file: the weights under their PyTorch names, the EMA weights
 * ({@code ema.*}), the AdamW moments ({@code adam.m.*}, {@code adam.v.*}) and, in the metadata, the step and
 * whatever the trainer needs to continue (plan position, config). Written atomically.
 */
public record Checkpoint(Map<String, INDArray> weights, Map<String, INDArray> ema, Map<String, INDArray> optimizer,
                         long step, Map<String, String> metadata) {

    public static final String STEP = "step";

    public void save(Path file) throws IOException {
        Map<String, INDArray> all = new LinkedHashMap<>(weights);
        all.putAll(ema);
        all.putAll(optimizer);
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put(STEP, Long.toString(step));
        Safetensors.write(file, all, meta, Safetensors.Dtype.F32);
    }

    /**
     * Loads a checkpoint once its header has passed {@code checkWeights} (given the raw weights' shapes, e.g.
     * {@link org.transcend.model.sit.SiT#checkStateDict}) and each EMA and optimiser tensor has its weight's shape:
     * a file that does not fit is refused, naming the tensor, before any tensor is read.
     */
    public static Checkpoint load(Path file, Consumer<Map<String, long[]>> checkWeights) throws IOException {
        Map<String, long[]> all = Safetensors.shapes(file);
        Map<String, long[]> weights = new LinkedHashMap<>();
        all.forEach((name, shape) -> {
            if (!name.startsWith("ema.") && !name.startsWith("adam.")) weights.put(name, shape);
        });
        try {
            checkWeights.accept(weights);
        } catch (IllegalArgumentException e) {
            throw new WeightsFileException(file, e.getMessage());
        }
        for (Map.Entry<String, long[]> e : all.entrySet()) {
            String name = e.getKey();
            String of = name.startsWith("ema.") ? name.substring(4)
                    : name.startsWith("adam.m.") || name.startsWith("adam.v.") ? name.substring(7) : null;
            if (of != null && !Arrays.equals(e.getValue(), weights.get(of))) {
                throw new WeightsFileException(file, "tensor '" + name + "' has shape " + Arrays.toString(e.getValue())
                        + "; expected the shape of '" + of + "', " + (weights.containsKey(of) ? Arrays.toString(weights.get(of)) : "which is missing"));
            }
        }
        return load(file);
    }

    public static Checkpoint load(Path file) throws IOException {
        Safetensors.Contents c = Safetensors.read(file);
        Map<String, INDArray> weights = new LinkedHashMap<>(), ema = new LinkedHashMap<>(), opt = new LinkedHashMap<>();
        c.tensors().forEach((k, a) -> {
            if (k.startsWith("ema.")) ema.put(k, a);
            else if (k.startsWith("adam.")) opt.put(k, a);
            else weights.put(k, a);
        });
        String step = c.metadata().get(STEP);
        if (step == null) throw new IllegalArgumentException(file + " is a weights file, not a checkpoint: no 'step' in its metadata");
        return new Checkpoint(weights, ema, opt, Long.parseLong(step), c.metadata());
    }

    /**
     * The EMA weights under the plain parameter names (for sampling); tensors without an EMA (the fixed
     * {@code pos_embed}) and checkpoints without any come from the raw weights.
     */
    public Map<String, INDArray> emaWeights() {
        Map<String, INDArray> out = new LinkedHashMap<>(weights);
        ema.forEach((k, a) -> out.put(k.substring(4), a));
        return out;
    }
}
