package org.transcend.model.eval;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.io.Safetensors;
import org.transcend.model.io.WeightsFileException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of pytorch-fid's FID-Inception in the naming of {@code pt_inception-2015-12-05-6726825d.pth}, checked
 * tensor by tensor against the network's layout, with each batch norm folded into the convolution before it.
 *
 * <p>The official weights come as a PyTorch pickle; convert them once to safetensors with PyTorch and the
 * {@code safetensors} package:
 * <pre>
 * import torch; from safetensors.torch import save_file
 * sd = torch.load("pt_inception-2015-12-05-6726825d.pth", map_location="cpu")
 * save_file({k: v.contiguous() for k, v in sd.items()}, "pt_inception-2015-12-05.safetensors")
 * </pre>
 */
public final class FidInceptionWeights {

    /** The batch-norm eps of every BasicConv2d (TensorFlow's 0.001, kept by torchvision's port). */
    public static final double BN_EPS = 0.001;
    public static final int FEATURES = 2048;
    public static final int LOGITS = 1008;

    private static final List<String> BN_TENSORS = List.of("weight", "bias", "running_mean", "running_var");

    /**
     * One torchvision BasicConv2d (convolution without bias, batch norm, ReLU): its name, channels, kernel, stride
     * and zero padding.
     */
    public record BasicConv(String name, int in, int out, int kernelH, int kernelW, int stride, int padH, int padW) {
        /** Stride 1 with the padding that keeps the spatial size. */
        static BasicConv same(String name, int in, int out, int kernelH, int kernelW) {
            return new BasicConv(name, in, out, kernelH, kernelW, 1, (kernelH - 1) / 2, (kernelW - 1) / 2);
        }

        /** A square kernel without padding. */
        static BasicConv valid(String name, int in, int out, int kernel, int stride) {
            return new BasicConv(name, in, out, kernel, kernel, stride, 0, 0);
        }

        long[] weightShape() {
            return new long[]{out, in, kernelH, kernelW};
        }
    }

    /** A BasicConv2d reduced to one convolution with bias: W·γ/√(var + eps) and β − mean·γ/√(var + eps). */
    public record FoldedConv(BasicConv layout, INDArray weight, INDArray bias) {}

    private final Map<String, FoldedConv> convs;

    private FidInceptionWeights(Map<String, FoldedConv> convs) {
        this.convs = convs;
    }

    /** Reads and checks a safetensors file of the FID-Inception state_dict. */
    public static FidInceptionWeights read(Path file) throws IOException {
        Map<String, INDArray> tensors = Safetensors.read(file).tensors();
        try {
            return of(tensors);
        } catch (IllegalArgumentException e) {
            throw new WeightsFileException(file, e.getMessage());
        }
    }

    /**
     * Checks a state_dict against the layout: every BasicConv2d needs {@code <name>.conv.weight} and
     * {@code <name>.bn.{weight, bias, running_mean, running_var}} of the layout's shapes; {@code fc.weight}
     * [1008, 2048], {@code fc.bias} [1008] and {@code <name>.bn.num_batches_tracked} may be present and are
     * unused. All problems are named in one error.
     */
    public static FidInceptionWeights of(Map<String, INDArray> stateDict) {
        Map<String, long[]> expected = new LinkedHashMap<>();
        Map<String, long[]> optional = new LinkedHashMap<>();
        for (BasicConv c : layout()) {
            expected.put(c.name() + ".conv.weight", c.weightShape());
            for (String t : BN_TENSORS) expected.put(c.name() + ".bn." + t, new long[]{c.out()});
            optional.put(c.name() + ".bn.num_batches_tracked", new long[]{});
        }
        optional.put("fc.weight", new long[]{LOGITS, FEATURES});
        optional.put("fc.bias", new long[]{LOGITS});

        List<String> problems = new ArrayList<>();
        expected.forEach((name, shape) -> {
            INDArray a = stateDict.get(name);
            if (a == null) {
                problems.add("missing '" + name + "' " + Arrays.toString(shape));
            } else {
                checkShape(name, a, shape, problems);
            }
        });
        stateDict.forEach((name, a) -> {
            if (expected.containsKey(name)) return;
            if (optional.containsKey(name)) {
                checkShape(name, a, optional.get(name), problems);
            } else {
                problems.add("unexpected '" + name + "' " + Arrays.toString(a.shape()));
            }
        });
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("the state_dict is not pytorch-fid's FID-Inception (" + problems.size()
                    + " problems): " + String.join("; ", problems));
        }

        Map<String, FoldedConv> convs = new LinkedHashMap<>();
        for (BasicConv c : layout()) {
            convs.put(c.name(), fold(c, stateDict));
        }
        return new FidInceptionWeights(convs);
    }

    private static void checkShape(String name, INDArray a, long[] shape, List<String> problems) {
        if (!Arrays.equals(a.shape(), shape)) {
            problems.add("'" + name + "' has shape " + Arrays.toString(a.shape()) + ", expected " + Arrays.toString(shape));
        }
    }

    // Folding in double keeps the folded weights within float rounding of conv-then-BN.
    private static FoldedConv fold(BasicConv c, Map<String, INDArray> sd) {
        String bn = c.name() + ".bn.";
        INDArray gamma = sd.get(bn + "weight").castTo(DataType.DOUBLE);
        INDArray beta = sd.get(bn + "bias").castTo(DataType.DOUBLE);
        INDArray mean = sd.get(bn + "running_mean").castTo(DataType.DOUBLE);
        INDArray var = sd.get(bn + "running_var").castTo(DataType.DOUBLE);
        INDArray scale = gamma.div(org.nd4j.linalg.ops.transforms.Transforms.sqrt(var.add(BN_EPS), false));
        INDArray weight = sd.get(c.name() + ".conv.weight").castTo(DataType.DOUBLE)
                .mul(scale.reshape(c.out(), 1, 1, 1));
        INDArray bias = beta.sub(mean.mul(scale));
        return new FoldedConv(c, weight.castTo(DataType.FLOAT), bias.castTo(DataType.FLOAT));
    }

    /** The folded convolution of that BasicConv2d. */
    public FoldedConv conv(String name) {
        FoldedConv c = convs.get(name);
        if (c == null) {
            throw new IllegalArgumentException("FID-Inception has no BasicConv2d '" + name + "'");
        }
        return c;
    }

    /** Every BasicConv2d of the FID-Inception up to Mixed_7c, top to bottom. */
    public static List<BasicConv> layout() {
        List<BasicConv> l = new ArrayList<>();
        l.add(BasicConv.valid("Conv2d_1a_3x3", 3, 32, 3, 2));
        l.add(BasicConv.valid("Conv2d_2a_3x3", 32, 32, 3, 1));
        l.add(BasicConv.same("Conv2d_2b_3x3", 32, 64, 3, 3));
        l.add(BasicConv.same("Conv2d_3b_1x1", 64, 80, 1, 1));
        l.add(BasicConv.valid("Conv2d_4a_3x3", 80, 192, 3, 1));
        inceptionA(l, "Mixed_5b", 192, 32);
        inceptionA(l, "Mixed_5c", 256, 64);
        inceptionA(l, "Mixed_5d", 288, 64);
        inceptionB(l, "Mixed_6a", 288);
        inceptionC(l, "Mixed_6b", 768, 128);
        inceptionC(l, "Mixed_6c", 768, 160);
        inceptionC(l, "Mixed_6d", 768, 160);
        inceptionC(l, "Mixed_6e", 768, 192);
        inceptionD(l, "Mixed_7a", 768);
        inceptionE(l, "Mixed_7b", 1280);
        inceptionE(l, "Mixed_7c", 2048);
        return l;
    }

    private static void inceptionA(List<BasicConv> l, String block, int in, int poolFeatures) {
        l.add(BasicConv.same(block + ".branch1x1", in, 64, 1, 1));
        l.add(BasicConv.same(block + ".branch5x5_1", in, 48, 1, 1));
        l.add(BasicConv.same(block + ".branch5x5_2", 48, 64, 5, 5));
        l.add(BasicConv.same(block + ".branch3x3dbl_1", in, 64, 1, 1));
        l.add(BasicConv.same(block + ".branch3x3dbl_2", 64, 96, 3, 3));
        l.add(BasicConv.same(block + ".branch3x3dbl_3", 96, 96, 3, 3));
        l.add(BasicConv.same(block + ".branch_pool", in, poolFeatures, 1, 1));
    }

    private static void inceptionB(List<BasicConv> l, String block, int in) {
        l.add(BasicConv.valid(block + ".branch3x3", in, 384, 3, 2));
        l.add(BasicConv.same(block + ".branch3x3dbl_1", in, 64, 1, 1));
        l.add(BasicConv.same(block + ".branch3x3dbl_2", 64, 96, 3, 3));
        l.add(BasicConv.valid(block + ".branch3x3dbl_3", 96, 96, 3, 2));
    }

    private static void inceptionC(List<BasicConv> l, String block, int in, int c7) {
        l.add(BasicConv.same(block + ".branch1x1", in, 192, 1, 1));
        l.add(BasicConv.same(block + ".branch7x7_1", in, c7, 1, 1));
        l.add(BasicConv.same(block + ".branch7x7_2", c7, c7, 1, 7));
        l.add(BasicConv.same(block + ".branch7x7_3", c7, 192, 7, 1));
        l.add(BasicConv.same(block + ".branch7x7dbl_1", in, c7, 1, 1));
        l.add(BasicConv.same(block + ".branch7x7dbl_2", c7, c7, 7, 1));
        l.add(BasicConv.same(block + ".branch7x7dbl_3", c7, c7, 1, 7));
        l.add(BasicConv.same(block + ".branch7x7dbl_4", c7, c7, 7, 1));
        l.add(BasicConv.same(block + ".branch7x7dbl_5", c7, 192, 1, 7));
        l.add(BasicConv.same(block + ".branch_pool", in, 192, 1, 1));
    }

    private static void inceptionD(List<BasicConv> l, String block, int in) {
        l.add(BasicConv.same(block + ".branch3x3_1", in, 192, 1, 1));
        l.add(BasicConv.valid(block + ".branch3x3_2", 192, 320, 3, 2));
        l.add(BasicConv.same(block + ".branch7x7x3_1", in, 192, 1, 1));
        l.add(BasicConv.same(block + ".branch7x7x3_2", 192, 192, 1, 7));
        l.add(BasicConv.same(block + ".branch7x7x3_3", 192, 192, 7, 1));
        l.add(BasicConv.valid(block + ".branch7x7x3_4", 192, 192, 3, 2));
    }

    private static void inceptionE(List<BasicConv> l, String block, int in) {
        l.add(BasicConv.same(block + ".branch1x1", in, 320, 1, 1));
        l.add(BasicConv.same(block + ".branch3x3_1", in, 384, 1, 1));
        l.add(BasicConv.same(block + ".branch3x3_2a", 384, 384, 1, 3));
        l.add(BasicConv.same(block + ".branch3x3_2b", 384, 384, 3, 1));
        l.add(BasicConv.same(block + ".branch3x3dbl_1", in, 448, 1, 1));
        l.add(BasicConv.same(block + ".branch3x3dbl_2", 448, 384, 3, 3));
        l.add(BasicConv.same(block + ".branch3x3dbl_3a", 384, 384, 1, 3));
        l.add(BasicConv.same(block + ".branch3x3dbl_3b", 384, 384, 3, 1));
        l.add(BasicConv.same(block + ".branch_pool", in, 192, 1, 1));
    }
}
