package org.transcend.stages.importing;

import org.apache.beam.sdk.io.FileSystems;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.util.zip.GZIPInputStream;

/**
 * The idx format of (Fashion-)MNIST: a big-endian magic (0x0803 images, 0x0801 labels), the dimensions, then
 * unsigned bytes. Plain or gzipped, local or on any Beam file system.
 */
final class IdxFile {
    static final int IMAGES_MAGIC = 0x00000803;
    static final int LABELS_MAGIC = 0x00000801;

    /** count items of rows × cols bytes each (labels: rows = cols = 1). */
    record Header(String path, int count, int rows, int cols, int headerBytes) {
        int itemBytes() {
            return rows * cols;
        }
    }

    private IdxFile() {}

    static InputStream open(String path) throws IOException {
        InputStream raw = Channels.newInputStream(FileSystems.open(FileSystems.matchSingleFileSpec(path).resourceId()));
        InputStream in = new BufferedInputStream(raw, 1 << 16);
        return path.endsWith(".gz") ? new BufferedInputStream(new GZIPInputStream(in, 1 << 16), 1 << 16) : in;
    }

    static Header header(String path, int expectedMagic) throws IOException {
        try (DataInputStream in = new DataInputStream(open(path))) {
            return readHeader(path, in, expectedMagic);
        }
    }

    static Header readHeader(String path, DataInputStream in, int expectedMagic) throws IOException {
        int magic;
        try {
            magic = in.readInt();
        } catch (EOFException e) {
            throw new DatasetException(path + ": file ends before the idx header (4-byte magic)");
        }
        if (magic != expectedMagic) {
            throw new DatasetException(path + ": idx magic is 0x" + Integer.toHexString(magic) + "; expected 0x"
                    + Integer.toHexString(expectedMagic) + (expectedMagic == IMAGES_MAGIC ? " (images)" : " (labels)"));
        }
        try {
            int count = in.readInt();
            if (expectedMagic == LABELS_MAGIC) return new Header(path, count, 1, 1, 8);
            return new Header(path, count, in.readInt(), in.readInt(), 16);
        } catch (EOFException e) {
            throw new DatasetException(path + ": file ends inside the idx header");
        }
    }

    /** Reads the whole file once to check that it holds every item its header declares. */
    static Header validate(String path, int expectedMagic) throws IOException {
        try (DataInputStream in = new DataInputStream(open(path))) {
            Header h = readHeader(path, in, expectedMagic);
            long expected = (long) h.count() * h.itemBytes();
            long have = skipAll(in);
            if (have < expected) {
                throw new DatasetException(path + ": truncated idx file: header declares " + h.count() + " items of "
                        + h.itemBytes() + " bytes (" + expected + " bytes of data) but the file holds " + have
                        + " bytes, enough for " + have / h.itemBytes() + " items");
            }
            return h;
        } catch (java.util.zip.ZipException | EOFException e) {
            throw new DatasetException(path + ": corrupt gzip stream: " + e.getMessage());
        }
    }

    private static long skipAll(InputStream in) throws IOException {
        long total = 0;
        byte[] buf = new byte[1 << 16];
        for (int r; (r = in.read(buf)) > 0; ) total += r;
        return total;
    }
}
