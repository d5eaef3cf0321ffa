package org.transcend.stages.sampling;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

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
