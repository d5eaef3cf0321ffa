package org.transcend.model.eval;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Pooling2DConfig;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * pytorch-fid's FID-Inception (torchvision's Inception-v3 with the FIDInceptionA/C/E_1/E_2 patches) in SameDiff,
 * from images in [0, 1] to the 2048-d pool3 features that FID compares.
 *
 * <p>As pytorch-fid does: bilinear resize to 299×299 (align_corners=False, no antialias), 2x − 1, the network,
 * global average pool. The pooling branches of the A, C and E_1 blocks average without counting padding
 * (TensorFlow's pool); Mixed_7c's pool branch is a max pool. Weights: see {@link FidInceptionWeights}.
 */
public final class FidInception implements FeatureNetwork {

    public static final int INPUT_SIZE = 299;
    /** Images per graph run: bounds the memory of one pass (the im2col buffer of an early conv is ~25 MB an image). */
    public static final int BATCH = 16;

    private static final String INPUT = "images299";

    /** The resized input and the block outputs the parity test compares with pytorch-fid. */
    public record Taps(INDArray resized, INDArray mixed5d, INDArray mixed6e, INDArray mixed7c, INDArray pool3) {}

    private final FidInceptionWeights weights;
    private final SameDiff sd;
    private final SDVariable mixed5d;
    private final SDVariable mixed6e;
    private final SDVariable mixed7c;
    private final SDVariable pool3;

    public FidInception(FidInceptionWeights weights) {
        org.transcend.model.nn.DeferredDeallocation.install(); // ND4J frees buffers under running ops otherwise
        this.weights = weights;
        this.sd = SameDiff.create();
        SDVariable images = sd.placeHolder(INPUT, DataType.FLOAT, -1, 3, INPUT_SIZE, INPUT_SIZE);
        SDVariable x = images.mul(2.0).sub(1.0);
        x = conv(x, "Conv2d_1a_3x3");
        x = conv(x, "Conv2d_2a_3x3");
        x = conv(x, "Conv2d_2b_3x3");
        x = maxPool(x, 2, 0);
        x = conv(x, "Conv2d_3b_1x1");
        x = conv(x, "Conv2d_4a_3x3");
        x = maxPool(x, 2, 0);
        x = inceptionA(x, "Mixed_5b");
        x = inceptionA(x, "Mixed_5c");
        this.mixed5d = inceptionA(x, "Mixed_5d");
        x = inceptionB(mixed5d, "Mixed_6a");
        x = inceptionC(x, "Mixed_6b");
        x = inceptionC(x, "Mixed_6c");
        x = inceptionC(x, "Mixed_6d");
        this.mixed6e = inceptionC(x, "Mixed_6e");
        x = inceptionD(mixed6e, "Mixed_7a");
        x = inceptionE(x, "Mixed_7b", averagePoolWithoutPadding(x));
        this.mixed7c = inceptionE(x, "Mixed_7c", maxPool(x, 1, 1));
        this.pool3 = mixed7c.mean(2, 3);
    }

    /** Reads and checks the weights ({@link FidInceptionWeights#read}) and builds the network. */
    public static FidInception read(Path weightsFile) throws IOException {
        return new FidInception(FidInceptionWeights.read(weightsFile));
    }

    /** pool3 features [N, 2048] of images [N, 3 or 1, H, W] in [0, 1], computed {@link #BATCH} images at a time. */
    @Override
    public INDArray features(INDArray images01) {
        INDArray images = checkedRgb(images01);
        long n = images.size(0);
        INDArray out = Nd4j.create(DataType.FLOAT, n, FidInceptionWeights.FEATURES);
        for (long start = 0; start < n; start += BATCH) {
            long end = Math.min(n, start + BATCH);
            INDArray resized = BilinearResize.resize(images.get(NDArrayIndex.interval(start, end)), INPUT_SIZE, INPUT_SIZE);
            out.get(NDArrayIndex.interval(start, end)).assign(run(resized, pool3).get(pool3.name()));
        }
        return out;
    }

    @Override
    public int featureDimension() {
        return FidInceptionWeights.FEATURES;
    }

    /** The intermediate outputs of one batch, for comparison with pytorch-fid. */
    public Taps taps(INDArray images01) {
        INDArray resized = BilinearResize.resize(checkedRgb(images01), INPUT_SIZE, INPUT_SIZE);
        Map<String, INDArray> o = run(resized, mixed5d, mixed6e, mixed7c, pool3);
        return new Taps(resized, o.get(mixed5d.name()), o.get(mixed6e.name()), o.get(mixed7c.name()), o.get(pool3.name()));
    }

    private Map<String, INDArray> run(INDArray resized, SDVariable... outputs) {
        return sd.output(Map.of(INPUT, resized), Arrays.stream(outputs).map(SDVariable::name).toArray(String[]::new));
    }

    /** Grayscale images are repeated to three channels, as the RGB network expects; values must lie in [0, 1]. */
    static INDArray checkedRgb(INDArray images01) {
        if (images01.rank() != 4 || (images01.size(1) != 1 && images01.size(1) != 3)) {
            throw new IllegalArgumentException("images have shape " + Arrays.toString(images01.shape())
                    + "; expected [N, 3, H, W] or [N, 1, H, W]");
        }
        double min = images01.minNumber().doubleValue(), max = images01.maxNumber().doubleValue();
        if (min < 0 || max > 1) {
            throw new IllegalArgumentException("image values span [" + min + ", " + max + "]; FID-Inception takes images in [0, 1]");
        }
        INDArray images = images01.castTo(DataType.FLOAT);
        return images.size(1) == 3 ? images : Nd4j.concat(1, images, images, images);
    }

    private SDVariable conv(SDVariable x, String name) {
        FidInceptionWeights.FoldedConv c = weights.conv(name);
        FidInceptionWeights.BasicConv l = c.layout();
        Conv2DConfig config = Conv2DConfig.builder()
                .kH(l.kernelH()).kW(l.kernelW()).sH(l.stride()).sW(l.stride()).pH(l.padH()).pW(l.padW())
                .paddingMode(PaddingMode.VALID).dataFormat(Conv2DConfig.NCHW).weightsFormat(WeightsFormat.OIYX).build();
        SDVariable convolved = sd.cnn().conv2d(x, sd.constant(name + ".weight", c.weight()), sd.constant(name + ".bias", c.bias()), config);
        return sd.nn.relu(convolved, 0.0);
    }

    private SDVariable maxPool(SDVariable x, int stride, int padding) {
        return sd.cnn().maxPooling2d(x, Pooling2DConfig.builder().kH(3).kW(3).sH(stride).sW(stride).pH(padding).pW(padding)
                .paddingMode(PaddingMode.VALID).isNHWC(false).build());
    }

    /** TensorFlow's 3×3 stride-1 average pool: padded positions are not counted (extra 0 in libnd4j). */
    private SDVariable averagePoolWithoutPadding(SDVariable x) {
        return sd.cnn().avgPooling2d(x, Pooling2DConfig.builder().kH(3).kW(3).sH(1).sW(1).pH(1).pW(1).extra(0)
                .paddingMode(PaddingMode.VALID).isNHWC(false).build());
    }

    private SDVariable concat(SDVariable... branches) {
        return sd.concat(1, branches);
    }

    private SDVariable inceptionA(SDVariable x, String b) {
        SDVariable branch1x1 = conv(x, b + ".branch1x1");
        SDVariable branch5x5 = conv(conv(x, b + ".branch5x5_1"), b + ".branch5x5_2");
        SDVariable branch3x3dbl = conv(conv(conv(x, b + ".branch3x3dbl_1"), b + ".branch3x3dbl_2"), b + ".branch3x3dbl_3");
        SDVariable branchPool = conv(averagePoolWithoutPadding(x), b + ".branch_pool");
        return concat(branch1x1, branch5x5, branch3x3dbl, branchPool);
    }

    private SDVariable inceptionB(SDVariable x, String b) {
        SDVariable branch3x3 = conv(x, b + ".branch3x3");
        SDVariable branch3x3dbl = conv(conv(conv(x, b + ".branch3x3dbl_1"), b + ".branch3x3dbl_2"), b + ".branch3x3dbl_3");
        return concat(branch3x3, branch3x3dbl, maxPool(x, 2, 0));
    }

    private SDVariable inceptionC(SDVariable x, String b) {
        SDVariable branch1x1 = conv(x, b + ".branch1x1");
        SDVariable branch7x7 = x;
        for (int i = 1; i <= 3; i++) branch7x7 = conv(branch7x7, b + ".branch7x7_" + i);
        SDVariable branch7x7dbl = x;
        for (int i = 1; i <= 5; i++) branch7x7dbl = conv(branch7x7dbl, b + ".branch7x7dbl_" + i);
        SDVariable branchPool = conv(averagePoolWithoutPadding(x), b + ".branch_pool");
        return concat(branch1x1, branch7x7, branch7x7dbl, branchPool);
    }

    private SDVariable inceptionD(SDVariable x, String b) {
        SDVariable branch3x3 = conv(conv(x, b + ".branch3x3_1"), b + ".branch3x3_2");
        SDVariable branch7x7x3 = x;
        for (int i = 1; i <= 4; i++) branch7x7x3 = conv(branch7x7x3, b + ".branch7x7x3_" + i);
        return concat(branch3x3, branch7x7x3, maxPool(x, 2, 0));
    }

    /** The E block; its pool branch differs between Mixed_7b (average) and Mixed_7c (max), so it is given pooled. */
    private SDVariable inceptionE(SDVariable x, String b, SDVariable pooled) {
        SDVariable branch1x1 = conv(x, b + ".branch1x1");
        SDVariable branch3x3 = conv(x, b + ".branch3x3_1");
        branch3x3 = concat(conv(branch3x3, b + ".branch3x3_2a"), conv(branch3x3, b + ".branch3x3_2b"));
        SDVariable branch3x3dbl = conv(conv(x, b + ".branch3x3dbl_1"), b + ".branch3x3dbl_2");
        branch3x3dbl = concat(conv(branch3x3dbl, b + ".branch3x3dbl_3a"), conv(branch3x3dbl, b + ".branch3x3dbl_3b"));
        SDVariable branchPool = conv(pooled, b + ".branch_pool");
        return concat(branch1x1, branch3x3, branch3x3dbl, branchPool);
    }
}
