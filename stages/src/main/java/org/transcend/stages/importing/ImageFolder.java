package org.transcend.stages.importing;

import org.apache.beam.sdk.io.FileIO;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.MatchResult;
import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.DoFn;
import org.transcend.schemas.DeadLetter;
import org.transcend.schemas.ImageRecord;
import org.transcend.stages.io.Tensors;

import javax.imageio.ImageIO;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An image-folder dataset: {@code <root>/<class>/<image>} with PNG or JPEG files, local or on GCS. Classes are
 * the sorted sub-folder names. Every image is centre-cropped to a square and resized to the requested
 * resolution (bilinear), then converted to the requested channel count.
 */
public final class ImageFolder {
    private ImageFolder() {}

    static String pattern(String root) {
        return strip(root) + "/*/*";
    }

    private static String strip(String root) {
        return root.endsWith("/") ? root.substring(0, root.length() - 1) : root;
    }

    /** The class folder names found under the root, sorted. */
    public static List<String> classes(String root) {
        List<String> names = new ArrayList<>();
        try {
            MatchResult r = FileSystems.match(pattern(root));
            if (r.status() == MatchResult.Status.OK) {
                for (MatchResult.Metadata md : r.metadata()) names.add(classOf(root, md.resourceId().toString()));
            }
        } catch (IOException e) {
            throw new DatasetException("cannot list " + root + ": " + e.getMessage());
        }
        if (names.isEmpty()) {
            throw new DatasetException("no images under " + root + "; an image folder holds <class>/<image> files");
        }
        return ImportImages.sortedClasses(names);
    }

    static String classOf(String root, String file) {
        String rel = file.substring(file.indexOf(strip(root)) + strip(root).length() + 1);
        return rel.substring(0, rel.indexOf('/'));
    }

    static final class Decode extends DoFn<FileIO.ReadableFile, ImageRecord> {
        private final ImportSpec spec;
        private final List<String> classes;
        private final Counter images = Metrics.counter(ImportImages.STAGE, "images");
        private final Counter deadLetters = Metrics.counter(ImportImages.STAGE, "dead_letters");

        Decode(ImportSpec spec, List<String> classes) {
            this.spec = spec;
            this.classes = classes;
        }

        @ProcessElement
        public void process(@Element FileIO.ReadableFile file, MultiOutputReceiver out) {
            String path = file.getMetadata().resourceId().toString();
            String cls = classOf(spec.path(), path);
            try {
                String escape = escapesRoot(path);
                if (escape != null) {
                    reject(out, path, escape);
                    return;
                }
                byte[] bytes = file.readFullyAsBytes();
                if (bytes.length == 0) {
                    reject(out, path, "empty file");
                    return;
                }
                BufferedImage img = ImageIO.read(new ByteArrayInputStream(bytes));
                if (img == null) {
                    reject(out, path, "not a PNG or JPEG image (" + bytes.length + " bytes)");
                    return;
                }
                byte[] pixels = pixels(squareResize(img, spec.resolution()), spec.channels());
                String id = cls + "/" + file.getMetadata().resourceId().getFilename();
                images.inc();
                out.get(ImportImages.IMAGES).output(new ImageRecord(id, classes.indexOf(cls),
                        Tensors.uint8(pixels, spec.channels(), spec.resolution(), spec.resolution()), path));
            } catch (IOException | RuntimeException e) {
                reject(out, path, "corrupt image: " + e.getMessage());
            }
        }

        private void reject(MultiOutputReceiver out, String path, String reason) {
            deadLetters.inc();
            out.get(ImportImages.DEAD_LETTERS).output(new DeadLetter(ImportImages.STAGE, path, reason, null));
        }

        /**
         * A class folder named {@code .} or {@code ..} (an object store can hold such names), or, locally, a class
         * folder or image that is a link or resolves outside the root, is refused.
         */
        private String escapesRoot(String path) throws IOException {
            String badName = notAPlainClassName(spec.path(), path);
            if (badName != null) return badName;
            if (path.startsWith("gs://")) return null;
            Path file = Path.of(path.startsWith("file:") ? java.net.URI.create(path).getPath() : path);
            Path root = Path.of(spec.path()).toRealPath();
            if (Files.isSymbolicLink(file.getParent()) || Files.isSymbolicLink(file)) {
                return "a symbolic link; class folders and images must lie inside " + root;
            }
            if (!file.toRealPath().startsWith(root)) return "resolves outside the dataset root " + root;
            return null;
        }
    }

    /** Why the class folder of {@code file} is not a plain folder name inside {@code root}, or null when it is. */
    static String notAPlainClassName(String root, String file) {
        String cls = classOf(root, file);
        if (cls.isEmpty() || cls.equals(".") || cls.equals("..") || cls.contains("\\")) {
            return "class folder name '" + cls + "' is not a plain name inside the dataset root " + root;
        }
        return null;
    }

    static BufferedImage squareResize(BufferedImage img, int size) {
        int side = Math.min(img.getWidth(), img.getHeight());
        int x = (img.getWidth() - side) / 2, y = (img.getHeight() - side) / 2;
        BufferedImage out = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(img, 0, 0, size, size, x, y, x + side, y + side, null);
        g.dispose();
        return out;
    }

    /** [C, H, W] bytes: RGB planes, or ITU-R 601 luminance for one channel. */
    static byte[] pixels(BufferedImage img, int channels) {
        int h = img.getHeight(), w = img.getWidth();
        byte[] out = new byte[channels * h * w];
        for (int yy = 0; yy < h; yy++) {
            for (int xx = 0; xx < w; xx++) {
                int rgb = img.getRGB(xx, yy);
                int r = (rgb >> 16) & 0xFF, g = (rgb >> 8) & 0xFF, b = rgb & 0xFF;
                int i = yy * w + xx;
                if (channels == 1) {
                    out[i] = (byte) Math.round(0.299 * r + 0.587 * g + 0.114 * b);
                } else {
                    out[i] = (byte) r;
                    out[h * w + i] = (byte) g;
                    out[2 * h * w + i] = (byte) b;
                }
            }
        }
        return out;
    }
}
