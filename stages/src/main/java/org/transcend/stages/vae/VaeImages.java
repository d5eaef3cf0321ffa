package org.transcend.stages.vae;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.schemas.ImageRecord;
import org.transcend.stages.io.Handoffs;
import org.transcend.stages.io.Tensors;

import java.io.IOException;
import java.util.Comparator;
import java.util.List;

/**
 * Images as the VAE sees them: uint8 [C, H, W] scaled to [−1, 1] and padded with −1 (black) to the VAE's square
 * resolution, e.g. Fashion-MNIST's 28×28 to 32×32. Records of another channel count or larger than the resolution
 * are refused with the record id and the expected shape.
 */
public final class VaeImages {
    private VaeImages() {}

    public static INDArray toVae(ImageRecord r, int channels, int resolution) {
        long[] s = Tensors.shape(r.getPixels());
        if (s.length != 3 || s[0] != channels || s[1] > resolution || s[2] > resolution) {
            throw new IllegalArgumentException("image " + r.getId() + " has shape " + java.util.Arrays.toString(s)
                    + "; expected [" + channels + ", H, W] with H, W <= " + resolution);
        }
        INDArray img = Tensors.decode(r.getPixels()).divi(127.5).subi(1.0);
        if (s[1] == resolution && s[2] == resolution) return img;
        INDArray padded = Nd4j.valueArrayOf(new long[]{channels, resolution, resolution}, -1.0f);
        long top = (resolution - s[1]) / 2, left = (resolution - s[2]) / 2;
        padded.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(top, top + s[1]),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(left, left + s[2])).assign(img);
        return padded;
    }

    /** Every ImageRecord of an import artifact, sorted by id. */
    public static List<ImageRecord> readAll(String importDir) throws IOException {
        List<ImageRecord> out = Handoffs.readAll(importDir, "images", ImageRecord.class);
        out.sort(Comparator.comparing(ImageRecord::getId));
        return out;
    }

    public static INDArray stack(List<ImageRecord> records, int channels, int resolution) {
        INDArray out = Nd4j.create(org.nd4j.linalg.api.buffer.DataType.FLOAT, records.size(), channels, resolution, resolution);
        for (int i = 0; i < records.size(); i++) out.slice(i).assign(toVae(records.get(i), channels, resolution));
        return out;
    }
}
