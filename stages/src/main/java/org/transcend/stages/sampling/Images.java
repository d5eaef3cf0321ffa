package org.transcend.stages.sampling;

import org.transcend.schemas.SampleRecord;
import org.transcend.stages.io.Tensors;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/** PNG encoding of uint8 [C, H, W] images, alone or as a grid. */
public final class Images {
    private Images() {}

    public static byte[] png(byte[] chw, int c, int h, int w) {
        return png(toImage(chw, c, h, w));
    }

    /** A grid of equally sized [C, H, W] images, row by row, with a 2-pixel gap. */
    public static byte[] grid(List<byte[]> images, int rows, int cols, int c, int h, int w) {
        int gap = 2;
        BufferedImage g = new BufferedImage(cols * (w + gap) + gap, rows * (h + gap) + gap, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < Math.min(images.size(), rows * cols); i++) {
            BufferedImage img = toImage(images.get(i), c, h, w);
            g.getGraphics().drawImage(img, gap + (i % cols) * (w + gap), gap + (i / cols) * (h + gap), null);
        }
        return png(g);
    }

    /**
     * The first samples of each class as a PNG grid, one class per row (sample i has class i mod classes, so cell
     * (class, j) is sample j·classes + class); absent cells stay black. Empty when there are no samples.
     */
    public static Optional<byte[]> classGrid(List<SampleRecord> samples, int classes, int perClass) {
        List<SampleRecord> first = samples.stream().filter(r -> r.getIndex() < (long) classes * perClass)
                .sorted(Comparator.comparingLong(SampleRecord::getIndex)).toList();
        if (first.isEmpty()) return Optional.empty();
        int cols = (first.size() + classes - 1) / classes;
        long[] shape = Tensors.shape(first.get(0).getPixels());
        List<byte[]> cells = new ArrayList<>();
        for (int cls = 0; cls < classes; cls++) {
            for (int j = 0; j < cols; j++) {
                int i = j * classes + cls;
                cells.add(i < first.size() ? Tensors.bytes(first.get(i).getPixels()) : new byte[(int) (shape[0] * shape[1] * shape[2])]);
            }
        }
        return Optional.of(grid(cells, classes, cols, (int) shape[0], (int) shape[1], (int) shape[2]));
    }

    static BufferedImage toImage(byte[] chw, int c, int h, int w) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = y * w + x;
                int r = chw[i] & 0xFF;
                int gg = c == 3 ? chw[h * w + i] & 0xFF : r;
                int b = c == 3 ? chw[2 * h * w + i] & 0xFF : r;
                img.setRGB(x, y, (r << 16) | (gg << 8) | b);
            }
        }
        return img;
    }

    private static byte[] png(BufferedImage img) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageIO.write(img, "png", out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
