package org.transcend.stages.importing;

import org.apache.beam.sdk.io.FileIO;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.MatchResult;
import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.Reshuffle;
import org.apache.beam.sdk.values.PBegin;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;
import org.transcend.schemas.DeadLetter;
import org.transcend.schemas.ImageRecord;
import org.transcend.stages.io.Tensors;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * The ImportImages stage: reads a dataset (Fashion-MNIST idx, CIFAR-10 binary batches, or an image folder
 * with one sub-folder per class) into {@link ImageRecord}s, in parallel. A file that cannot be imported at all
 * (wrong magic, a corrupt gzip stream) fails the stage with a message naming it; a single bad image (an item a cut
 * file lacks, a label outside the classes, an undecodable file) becomes a {@link DeadLetter}, counted, while every
 * good image is kept.
 */
public final class ImportImages extends PTransform<PBegin, PCollectionTuple> {

    public static final TupleTag<ImageRecord> IMAGES = new TupleTag<>() {};
    public static final TupleTag<DeadLetter> DEAD_LETTERS = new TupleTag<>() {};
    public static final String STAGE = "import-images";

    private final ImportSpec spec;

    public ImportImages(ImportSpec spec) {
        super("ImportImages");
        this.spec = spec;
    }

    @Override
    public PCollectionTuple expand(PBegin input) {
        return switch (spec.source()) {
            case FASHION_MNIST -> input
                    .apply("Plan idx shards", Create.of(idxShards()))
                    .apply("Spread shards", Reshuffle.viaRandomKey())
                    .apply("Read idx images", ParDo.of(new ReadIdxShard(spec)).withOutputTags(IMAGES, TupleTagList.of(DEAD_LETTERS)));
            case CIFAR10 -> input
                    .apply("Plan CIFAR-10 batches", Create.of(cifarShards()))
                    .apply("Spread shards", Reshuffle.viaRandomKey())
                    .apply("Read CIFAR-10 records", ParDo.of(new ReadCifarShard(spec)).withOutputTags(IMAGES, TupleTagList.of(DEAD_LETTERS)));
            case IMAGE_FOLDER -> input
                    .apply("Match class folders", FileIO.match().filepattern(ImageFolder.pattern(spec.path())))
                    .apply("Open images", FileIO.readMatches())
                    .apply("Decode images", ParDo.of(new ImageFolder.Decode(spec, ImageFolder.classes(spec.path())))
                            .withOutputTags(IMAGES, TupleTagList.of(DEAD_LETTERS)));
        };
    }

    /**
     * A contiguous range of items of one source file, of which those before {@code whole} are complete; the others
     * are dead letters with {@code missing} as their reason (a file cut short).
     */
    record Shard(String file, String labels, long firstIndex, long start, long end, long whole, String missing) implements Serializable {}

    private List<Shard> idxShards() {
        String prefix = spec.split().equals("train") ? "train" : "t10k";
        String images = findFile(prefix + "-images-idx3-ubyte");
        String labels = findFile(prefix + "-labels-idx1-ubyte");
        try {
            IdxFile.Checked ic = IdxFile.check(images, IdxFile.IMAGES_MAGIC);
            IdxFile.Checked lc = IdxFile.check(labels, IdxFile.LABELS_MAGIC);
            IdxFile.Header ih = ic.header(), lh = lc.header();
            if (ih.count() != lh.count()) {
                throw new DatasetException(images + " holds " + ih.count() + " images but " + labels + " holds "
                        + lh.count() + " labels; they must match");
            }
            long n = spec.limit() > 0 ? Math.min(spec.limit(), ih.count()) : ih.count();
            IdxFile.Checked cut = ic.whole() <= lc.whole() ? ic : lc;
            String missing = cut.whole() < ih.count() ? cut.header().path() + ": " + cut.missing() : "";
            List<Shard> shards = new ArrayList<>();
            long per = Math.max(1, (n + spec.shards() - 1) / spec.shards());
            for (long s = 0; s < n; s += per) shards.add(new Shard(images, labels, 0, s, Math.min(n, s + per), cut.whole(), missing));
            return shards;
        } catch (IOException e) {
            throw new DatasetException("cannot read " + images + ": " + e.getMessage());
        }
    }

    private String findFile(String base) {
        for (String candidate : List.of(base + ".gz", base)) {
            String p = spec.path() + "/" + candidate;
            try {
                if (FileSystems.match(p).status() == MatchResult.Status.OK && !FileSystems.match(p).metadata().isEmpty()) return p;
            } catch (IOException e) {
                throw new DatasetException("cannot list " + p + ": " + e.getMessage());
            }
        }
        throw new DatasetException("no " + base + "[.gz] in " + spec.path()
                + " (data.path must be a Fashion-MNIST directory, e.g. /usr/share/datasets/fashion-mnist"
                + " from Debian's dataset-fashion-mnist package)");
    }

    static final class ReadIdxShard extends DoFn<Shard, ImageRecord> {
        private static final int NUM_CLASSES = 10;
        private final ImportSpec spec;
        private final Counter images = Metrics.counter(STAGE, "images");
        private final Counter deadLetters = Metrics.counter(STAGE, "dead_letters");

        ReadIdxShard(ImportSpec spec) {
            this.spec = spec;
        }

        @ProcessElement
        public void process(@Element Shard shard, MultiOutputReceiver out) throws IOException {
            try (DataInputStream im = new DataInputStream(IdxFile.open(shard.file()));
                 DataInputStream lb = new DataInputStream(IdxFile.open(shard.labels()))) {
                IdxFile.Header h = IdxFile.readHeader(shard.file(), im, IdxFile.IMAGES_MAGIC);
                IdxFile.readHeader(shard.labels(), lb, IdxFile.LABELS_MAGIC);
                long first = Math.min(shard.start(), shard.whole());
                im.skipNBytes(first * h.itemBytes());
                lb.skipNBytes(first);
                byte[] pixels = new byte[h.itemBytes()];
                for (long i = shard.start(); i < shard.end(); i++) {
                    String id = String.format("%s-%s-%06d", spec.datasetName(), spec.split(), i);
                    String source = shard.file() + "#" + i;
                    if (i >= shard.whole()) {
                        deadLetters.inc();
                        out.get(DEAD_LETTERS).output(new DeadLetter(STAGE, source, shard.missing(), null));
                        continue;
                    }
                    im.readFully(pixels);
                    int label = lb.readUnsignedByte();
                    if (label >= NUM_CLASSES) {
                        deadLetters.inc();
                        out.get(DEAD_LETTERS).output(new DeadLetter(STAGE, source,
                                "label " + label + " outside the class range 0.." + (NUM_CLASSES - 1), null));
                        continue;
                    }
                    images.inc();
                    out.get(IMAGES).output(new ImageRecord(id, label,
                            Tensors.uint8(pixels.clone(), 1, h.rows(), h.cols()), source));
                }
            }
        }
    }

    private List<Shard> cifarShards() {
        List<String> files = new ArrayList<>();
        if (spec.split().equals("train")) {
            for (int i = 1; i <= 5; i++) files.add(spec.path() + "/data_batch_" + i + ".bin");
        } else {
            files.add(spec.path() + "/test_batch.bin");
        }
        List<Shard> shards = new ArrayList<>();
        long first = 0;
        for (String f : files) {
            long size;
            try {
                size = FileSystems.matchSingleFileSpec(f).sizeBytes();
            } catch (IOException e) {
                throw new DatasetException("missing CIFAR-10 batch " + f + " (data.path must hold data_batch_1..5.bin and test_batch.bin)");
            }
            // A cut-off last record is a dead letter; the whole records before it are kept.
            long whole = size / ReadCifarShard.RECORD;
            long n = whole + (size % ReadCifarShard.RECORD == 0 ? 0 : 1);
            String missing = f + ": truncated CIFAR-10 batch: " + size + " bytes is not a whole number of " + ReadCifarShard.RECORD
                    + "-byte records; the first " + whole + " are whole";
            if (spec.limit() > 0) n = Math.max(0, Math.min(n, spec.limit() - first));
            if (n > 0) shards.add(new Shard(f, f, first, 0, n, whole, missing));
            first += n;
        }
        return shards;
    }

    static final class ReadCifarShard extends DoFn<Shard, ImageRecord> {
        static final int RECORD = 1 + 3 * 32 * 32;
        private final ImportSpec spec;
        private final Counter images = Metrics.counter(STAGE, "images");
        private final Counter deadLetters = Metrics.counter(STAGE, "dead_letters");

        ReadCifarShard(ImportSpec spec) {
            this.spec = spec;
        }

        @ProcessElement
        public void process(@Element Shard shard, MultiOutputReceiver out) throws IOException {
            try (InputStream in = IdxFile.open(shard.file())) {
                byte[] rec = new byte[RECORD];
                for (long i = shard.start(); i < shard.end(); i++) {
                    long index = shard.firstIndex() + i;
                    String source = shard.file() + "#" + i;
                    if (i >= shard.whole()) {
                        deadLetters.inc();
                        out.get(DEAD_LETTERS).output(new DeadLetter(STAGE, source, shard.missing(), null));
                        continue;
                    }
                    in.readNBytes(rec, 0, RECORD);
                    int label = rec[0] & 0xFF;
                    if (label >= 10) {
                        deadLetters.inc();
                        out.get(DEAD_LETTERS).output(new DeadLetter(STAGE, source, "label " + label + " outside the class range 0..9", null));
                        continue;
                    }
                    images.inc();
                    byte[] pixels = java.util.Arrays.copyOfRange(rec, 1, RECORD);
                    out.get(IMAGES).output(new ImageRecord(String.format("%s-%s-%06d", spec.datasetName(), spec.split(), index),
                            label, Tensors.uint8(pixels, 3, 32, 32), source));
                }
            }
        }
    }

    /** Sorted class names, so labels are stable whatever order the file system lists folders in. */
    static List<String> sortedClasses(Iterable<String> names) {
        TreeSet<String> s = new TreeSet<>();
        names.forEach(s::add);
        return new ArrayList<>(s);
    }
}
