package org.transcend.runners.dataflow;

import org.transcend.pipelines.config.ConfigException;

import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The Dataflow GPUs the CUDA build can use. nd4j-cuda-11.6 ships compiled kernels (cubins) for sm_37, sm_50, sm_52,
 * sm_60, sm_61, sm_70, sm_75, sm_80 and sm_86 and no PTX, so no kernel can be compiled for a newer architecture at
 * load time; a cubin for sm_XY runs on a GPU of compute capability X.Z with Z >= Y. T4, V100, A100 and L4 qualify;
 * H100 and H200 (9.0) do not.
 */
public final class Accelerators {
    private Accelerators() {}

    /** A Dataflow accelerator type and its compute capability. */
    record Gpu(String type, int major, int minor) {
        boolean runsNd4jCuda116() {
            return KERNELS.stream().anyMatch(sm -> sm / 10 == major && sm % 10 <= minor);
        }

        String capability() {
            return major + "." + minor;
        }
    }

    /** The SM architectures of the cubins in nd4j-cuda-11.6 1.0.0-M2.1's libnd4jcuda.so (listed from its .nv_fatbin). */
    static final List<Integer> KERNELS = List.of(37, 50, 52, 60, 61, 70, 75, 80, 86);

    static final List<Gpu> DATAFLOW_GPUS = List.of(
            new Gpu("nvidia-tesla-t4", 7, 5), new Gpu("nvidia-l4", 8, 9), new Gpu("nvidia-tesla-a100", 8, 0),
            new Gpu("nvidia-a100-80gb", 8, 0), new Gpu("nvidia-tesla-v100", 7, 0), new Gpu("nvidia-tesla-p100", 6, 0),
            new Gpu("nvidia-tesla-p4", 6, 1), new Gpu("nvidia-h100-80gb", 9, 0), new Gpu("nvidia-h100-mega-80gb", 9, 0),
            new Gpu("nvidia-h200-141gb", 9, 0));

    /** The accelerator when the user names none: the T4, the cheapest GPU the kernels run on. */
    public static final String DEFAULT = "type:nvidia-tesla-t4;count:1;install-nvidia-driver";

    /** The value that asks for CPU workers only. */
    public static final String NONE = "none";

    /**
     * Beam's accelerator resource hint for the user's {@code --accelerator}: empty gives {@link #DEFAULT}, {@code none}
     * gives no hint, a bare type ({@code nvidia-l4}) one GPU of it with the driver installed, and a full hint
     * ({@code type:...;count:N;install-nvidia-driver}) is kept. A GPU the kernels cannot run on is refused.
     */
    public static String resourceHint(String accelerator) {
        if (accelerator.isBlank()) return DEFAULT;
        if (accelerator.equals(NONE)) return "";
        String hint = accelerator.contains(":") ? accelerator : "type:" + accelerator + ";count:1;install-nvidia-driver";
        String type = null;
        for (String part : hint.split(";")) {
            if (part.startsWith("type:")) type = part.substring("type:".length());
        }
        if (type == null) throw new ConfigException("--accelerator " + accelerator + " names no type:...; e.g. " + DEFAULT);
        Gpu gpu = gpu(type);
        if (!gpu.runsNd4jCuda116()) {
            throw new ConfigException("--accelerator " + type + " has compute capability " + gpu.capability()
                    + ", and nd4j-cuda-11.6 has kernels for sm_37 to sm_86 only, with no PTX to compile for newer GPUs; accepted: "
                    + usable() + ", or " + NONE + " for CPU workers");
        }
        return hint;
    }

    private static Gpu gpu(String type) {
        for (Gpu g : DATAFLOW_GPUS) if (g.type().equals(type)) return g;
        throw new ConfigException("--accelerator type " + type + " is not a Dataflow GPU this project knows; accepted: " + usable()
                + ", or " + NONE + " for CPU workers");
    }

    static String usable() {
        return DATAFLOW_GPUS.stream().filter(Gpu::runsNd4jCuda116)
                .map(g -> String.format(Locale.ROOT, "%s (%s)", g.type(), g.capability())).collect(Collectors.joining(", "));
    }
}
