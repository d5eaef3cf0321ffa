package org.transcend.pipelines;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Small datasets built on the fly, in the real on-disk formats the import stage reads. */
public final class TestDatasets {
    private TestDatasets() {}

    /** A Fashion-MNIST style directory with {@code n} 28×28 training images; the image file loses its last {@code cutBytes}. */
    public static Path fashionMnist(Path dir, int n, int cutBytes) throws IOException {
        return fashionMnist(dir, n, cutBytes, 0x803, i -> i % 10);
    }

    /** The same with the images file's magic number and each image's label chosen. */
    public static Path fashionMnist(Path dir, int n, int cutBytes, int imagesMagic, java.util.function.IntUnaryOperator label)
            throws IOException {
        Files.createDirectories(dir);
        ByteArrayOutputStream images = new ByteArrayOutputStream();
        DataOutputStream im = new DataOutputStream(images);
        im.writeInt(imagesMagic);
        im.writeInt(n);
        im.writeInt(28);
        im.writeInt(28);
        ByteArrayOutputStream labels = new ByteArrayOutputStream();
        DataOutputStream lb = new DataOutputStream(labels);
        lb.writeInt(0x801);
        lb.writeInt(n);
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < 28 * 28; p++) im.writeByte((i * 7 + p) & 0xFF);
            lb.writeByte(label.applyAsInt(i));
        }
        byte[] imageBytes = images.toByteArray();
        gzip(dir.resolve("train-images-idx3-ubyte.gz"), java.util.Arrays.copyOf(imageBytes, imageBytes.length - cutBytes));
        gzip(dir.resolve("train-labels-idx1-ubyte.gz"), labels.toByteArray());
        return dir;
    }

    private static void gzip(Path file, byte[] bytes) throws IOException {
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
            out.write(bytes);
        }
    }

    /** An image folder with two classes of {@code perClass} 20×16 PNGs each, plus {@code corrupt} broken PNG files. */
    public static Path imageFolder(Path dir, int perClass, int corrupt) throws IOException {
        for (String cls : new String[]{"boots", "coats"}) {
            Files.createDirectories(dir.resolve(cls));
            for (int i = 0; i < perClass; i++) {
                BufferedImage img = new BufferedImage(20, 16, BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < 16; y++) for (int x = 0; x < 20; x++) img.setRGB(x, y, (x * 12) << 16 | (y * 15) << 8 | i * 40);
                ImageIO.write(img, "png", dir.resolve(cls).resolve("img" + i + ".png").toFile());
            }
        }
        for (int i = 0; i < corrupt; i++) {
            byte[] png = Files.readAllBytes(dir.resolve("coats/img0.png"));
            Files.write(dir.resolve("coats").resolve("broken" + i + ".png"), java.util.Arrays.copyOf(png, 30));
        }
        return dir;
    }
}
