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

    /** A file's header and how many of the items it declares are whole in it (fewer when the file is cut short). */
    record Checked(Header header, long whole) {
        /** Why the items at and past {@link #whole} are missing, for their dead letters. */
        String missing() {
            return "truncated idx file: the header declares " + header.count() + " items of " + header.itemBytes()
                    + " bytes but the file holds only the first " + whole + " whole";
        }
    }

    /**
     * Reads the whole file once, item by item, to count the items it really holds; a file or gzip stream cut short
     * ends the count (the items before the cut are whole), it is no error.
     */
    static Checked check(String path, int expectedMagic) throws IOException {
        try (DataInputStream in = new DataInputStream(open(path))) {
            Header h = readHeader(path, in, expectedMagic);
            byte[] item = new byte[h.itemBytes()];
            long whole = 0;
            try {
                while (whole < h.count()) {
                    in.readFully(item);
                    whole++;
                }
            } catch (EOFException e) {
                // cut short: the count so far is what the file holds
            }
            return new Checked(h, whole);
        } catch (java.util.zip.ZipException e) {
            throw new DatasetException(path + ": corrupt gzip stream: " + e.getMessage());
        }
    }
}
