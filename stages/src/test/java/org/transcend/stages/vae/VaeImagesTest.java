package org.transcend.stages.vae;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.transcend.schemas.ImageRecord;
import org.transcend.stages.io.Tensors;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

public class VaeImagesTest {

    public static ImageRecord image(String id, int value, long... shape) {
        byte[] pixels = new byte[(int) Arrays.stream(shape).reduce(1, Math::multiplyExact)];
        Arrays.fill(pixels, (byte) value);
        return new ImageRecord(id, 3, Tensors.uint8(pixels, shape), "test");
    }

    @Test
    void padsA28By28ImageTo32By32WithBlack() {
        INDArray x = VaeImages.toVae(image("fmnist-train-000001", 255, 1, 28, 28), 1, 32);
        assertArrayEquals(new long[]{1, 32, 32}, x.shape());
        assertEquals(1.0, x.get(NDArrayIndex.all(), NDArrayIndex.interval(2, 30), NDArrayIndex.interval(2, 30)).minNumber().doubleValue());
        assertEquals(-1.0, x.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 2), NDArrayIndex.all()).maxNumber().doubleValue());
        assertEquals(-1.0, x.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(30, 32)).maxNumber().doubleValue());
        assertEquals(28 * 28 * 2 - 32 * 32, x.sumNumber().doubleValue(), 1e-3);
    }

    @Test
    void namesARecordWithAnotherChannelCountAndTheShapeExpected() {
        var e = assertThrows(IllegalArgumentException.class, () -> VaeImages.toVae(image("folder-cat-0007", 0, 3, 28, 28), 1, 32));
        assertEquals("image folder-cat-0007 has shape [3, 28, 28]; expected [1, H, W] with H, W <= 32", e.getMessage());
    }

    @Test
    void namesARecordLargerThanTheVaeResolution() {
        var e = assertThrows(IllegalArgumentException.class, () -> VaeImages.toVae(image("cifar-0003", 0, 1, 40, 28), 1, 32));
        assertEquals("image cifar-0003 has shape [1, 40, 28]; expected [1, H, W] with H, W <= 32", e.getMessage());
    }

    @Test
    void aBatchWithOneBadImageIsRefusedNamingThatImage() {
        List<ImageRecord> records = List.of(image("a", 10, 1, 28, 28), image("b", 10, 1, 28, 33), image("c", 10, 1, 28, 28));
        var e = assertThrows(IllegalArgumentException.class, () -> VaeImages.stack(records, 1, 32));
        assertEquals("image b has shape [1, 28, 33]; expected [1, H, W] with H, W <= 32", e.getMessage());
    }
}
