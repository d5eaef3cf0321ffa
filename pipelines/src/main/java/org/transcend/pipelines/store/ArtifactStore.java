package org.transcend.pipelines.store;

import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.MatchResult;
import org.apache.beam.sdk.io.fs.MoveOptions;
import org.apache.beam.sdk.io.fs.ResolveOptions.StandardResolveOptions;
import org.apache.beam.sdk.io.fs.ResourceId;
import org.transcend.schemas.ArtifactFile;
import org.transcend.schemas.ArtifactManifest;
import org.transcend.schemas.RunRecord;

import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The content-addressed artifact store: {@code <root>/<stage>/<key>/} holds an artifact's files and, written
 * last, its {@code _MANIFEST}. Works over Beam {@link FileSystems}, so local paths and {@code gs://} both do;
 * only committed artifacts (with a manifest) are ever read.
 */
public final class ArtifactStore {

    public static final String MANIFEST = "_MANIFEST";
    private static final String RUNS = "_runs";
    private static final String COMPARE = "_compare";
    private static final String PARTIAL = ".partial-";

    private static final long LEASE_POLL_MILLIS = 500;

    private final String root;
    private final Duration leaseStaleAfter;

    public ArtifactStore(String root) {
        this(root, Duration.ofMinutes(2));
    }

    /** {@code leaseStaleAfter}: how long a GCS build lease may go without a heartbeat before a waiting run takes it over. */
    public ArtifactStore(String root, Duration leaseStaleAfter) {
        this.root = root.endsWith("/") ? root.substring(0, root.length() - 1) : root;
        this.leaseStaleAfter = leaseStaleAfter;
    }

    public String root() {
        return root;
    }

    /** The directory of an artifact, committed or not, as a path string ending in '/'. */
    public String dir(String stage, String key) {
        return root + "/" + stage + "/" + key + "/";
    }

    public String file(String stage, String key, String name) {
        return dir(stage, key) + name;
    }

    /** The manifest of a committed artifact, or empty when the artifact is absent or half-written. */
    public Optional<ArtifactManifest> committed(String stage, String key) {
        return readJson(file(stage, key, MANIFEST), ArtifactManifest.class);
    }

    /** Every committed artifact of a stage, oldest first. */
    public List<ArtifactManifest> committed(String stage) {
        List<ArtifactManifest> out = new ArrayList<>();
        for (String m : match(root + "/" + stage + "/*/" + MANIFEST)) {
            readJson(m, ArtifactManifest.class).ifPresent(out::add);
        }
        out.sort(Comparator.comparingLong(ArtifactManifest::getCommittedAtMillis));
        return out;
    }

    /** Names of the stages that have a directory in the store. */
    public List<String> stages() {
        List<String> out = new ArrayList<>();
        for (String m : match(root + "/*/*/" + MANIFEST)) {
            String rel = m.substring(root.length() + 1);
            String stage = rel.substring(0, rel.indexOf('/'));
            if (!out.contains(stage)) out.add(stage);
        }
        out.sort(null);
        return out;
    }

    /**
     * Writes one data file of an artifact: to a uniquely named partial file, then renamed into place, so a
     * reader never sees a half file and two writers of the same key never interleave their bytes.
     */
    public void writeFile(String stage, String key, String name, byte[] bytes) throws IOException {
        writeAtomically(file(stage, key, name), bytes);
    }

    public byte[] readFile(String stage, String key, String name) throws IOException {
        return readBytes(file(stage, key, name));
    }

    /**
     * Commits an artifact: lists its data files and writes the manifest only if none exists (an atomic hard
     * link locally, a create-only-if-absent precondition on GCS). Returns the manifest that won: ours, or the
     * one a concurrent writer committed first.
     */
    public ArtifactManifest commit(String stage, int stageVersion, Preimage preimage, Map<String, Long> counts,
                                   Map<String, Double> metrics) throws IOException {
        String key = preimage.key();
        List<ArtifactFile> files = new ArrayList<>();
        String dir = dir(stage, key);
        for (MatchResult.Metadata md : matchMetadata(dir + "**")) {
            String rel = md.resourceId().toString().substring(dir.length());
            // Partial files are what a killed writer left; they never become part of the artifact.
            if (rel.equals(MANIFEST) || rel.equals(BuildLease.FILE) || rel.contains(".partial")) continue;
            files.add(new ArtifactFile(rel, md.sizeBytes()));
        }
        files.sort(Comparator.comparing(ArtifactFile::getPath));
        ArtifactManifest manifest = ArtifactManifest.newBuilder().setStage(stage).setStageVersion(stageVersion)
                .setKey(key).setPreimage(new java.util.TreeMap<>(preimage.fields())).setFiles(files)
                .setCounts(new java.util.TreeMap<>(counts)).setMetrics(new java.util.TreeMap<>(metrics))
                .setCommittedAtMillis(System.currentTimeMillis()).build();
        boolean won = ManifestCommitter.createIfAbsent(file(stage, key, MANIFEST), toJson(manifest));
        if (won) return manifest;
        return committed(stage, key).orElseThrow(() -> new IOException("manifest of " + dir + " exists but cannot be read"));
    }

    /** Deletes an artifact's manifest and files, so the next run rebuilds it. */
    public void invalidate(String stage, String key) throws IOException {
        List<ResourceId> ids = new ArrayList<>();
        for (MatchResult.Metadata md : matchMetadata(dir(stage, key) + "**")) {
            if (!md.resourceId().getFilename().equals(BuildLease.FILE)) ids.add(md.resourceId());
        }
        // The manifest goes first: from then on the directory is invisible to readers.
        ids.sort(Comparator.comparing((ResourceId r) -> !r.toString().endsWith(MANIFEST)));
        for (ResourceId id : ids) FileSystems.delete(List.of(id), MoveOptions.StandardMoveOptions.IGNORE_MISSING_FILES);
    }

    /**
     * Blocks until this run may build the artifact, returning its {@link BuildLease}, or, unless {@code rebuild},
     * until another run has committed it, returning empty. Says once on {@code log} whom it waits for.
     */
    public Optional<BuildLease> claim(String stage, String key, boolean rebuild, PrintStream log) throws IOException, InterruptedException {
        boolean told = false;
        while (true) {
            if (!rebuild && committed(stage, key).isPresent()) return Optional.empty();
            StringBuilder holder = new StringBuilder();
            Optional<BuildLease> lease = BuildLease.tryAcquire(dir(stage, key), leaseStaleAfter, holder);
            if (lease.isPresent()) return lease;
            if (!told) {
                log.printf("%-24s wait  %s  being built by %s%n", stage, key.substring(0, 12), holder);
                told = true;
            }
            Thread.sleep(LEASE_POLL_MILLIS);
        }
    }

    /** Deletes the partial files a killed writer left in an artifact directory; only the lease holder may call it. */
    public void clearPartials(String stage, String key) throws IOException {
        List<ResourceId> partials = new ArrayList<>();
        for (MatchResult.Metadata md : matchMetadata(dir(stage, key) + "**")) {
            if (md.resourceId().toString().contains(".partial")) partials.add(md.resourceId());
        }
        FileSystems.delete(partials, MoveOptions.StandardMoveOptions.IGNORE_MISSING_FILES);
    }

    public void writeRun(RunRecord run) throws IOException {
        writeAtomically(root + "/" + RUNS + "/" + run.getRunId() + ".json", toJson(run));
    }

    /** Writes a comparison's files into {@code <root>/_compare/<id>/} and returns that directory. */
    public String writeComparison(String id, Map<String, byte[]> files) throws IOException {
        String dir = root + "/" + COMPARE + "/" + id + "/";
        for (Map.Entry<String, byte[]> f : files.entrySet()) writeAtomically(dir + f.getKey(), f.getValue());
        return dir;
    }

    public List<RunRecord> runs() {
        List<RunRecord> out = new ArrayList<>();
        for (String m : match(root + "/" + RUNS + "/*.json")) readJson(m, RunRecord.class).ifPresent(out::add);
        out.sort(Comparator.comparingLong(RunRecord::getStartedAtMillis));
        return out;
    }

    // ---- file-system helpers ----

    static void writeAtomically(String path, byte[] bytes) throws IOException {
        ResourceId target = FileSystems.matchNewResource(path, false);
        ResourceId partial = target.getCurrentDirectory()
                .resolve(target.getFilename() + PARTIAL + UUID.randomUUID(), StandardResolveOptions.RESOLVE_FILE);
        try (OutputStream out = Channels.newOutputStream(FileSystems.create(partial, "application/octet-stream"))) {
            out.write(bytes);
        }
        FileSystems.rename(List.of(partial), List.of(target));
    }

    public static byte[] readBytes(String path) throws IOException {
        ResourceId id = FileSystems.matchSingleFileSpec(path).resourceId();
        try (InputStream in = Channels.newInputStream(FileSystems.open(id))) {
            return in.readAllBytes();
        }
    }

    static List<String> match(String spec) {
        List<String> out = new ArrayList<>();
        for (MatchResult.Metadata md : matchMetadata(spec)) out.add(md.resourceId().toString());
        return out;
    }

    static List<MatchResult.Metadata> matchMetadata(String spec) {
        try {
            MatchResult r = FileSystems.match(spec);
            if (r.status() == MatchResult.Status.NOT_FOUND) return List.of();
            return r.metadata();
        } catch (FileNotFoundException e) {
            return List.of();
        } catch (IOException e) {
            throw new StoreException("cannot list " + spec + ": " + e.getMessage(), e);
        }
    }

    public static <T extends SpecificRecord> byte[] toJson(T record) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            JsonEncoder enc = EncoderFactory.get().jsonEncoder(record.getSchema(), bytes, true);
            @SuppressWarnings("unchecked")
            SpecificDatumWriter<T> w = new SpecificDatumWriter<>((Class<T>) record.getClass());
            w.write(record, enc);
            enc.flush();
            bytes.write('\n');
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new StoreException("cannot encode " + record.getSchema().getName(), e);
        }
    }

    public static <T extends SpecificRecord> T fromJson(byte[] json, Class<T> type) throws IOException {
        SpecificDatumReader<T> r = new SpecificDatumReader<>(type);
        org.apache.avro.Schema schema = org.apache.avro.specific.SpecificData.get().getSchema(type);
        String text = JsonDefaults.complete(new String(json, StandardCharsets.UTF_8), schema);
        return r.read(null, DecoderFactory.get().jsonDecoder(schema, text));
    }

    static <T extends SpecificRecord> Optional<T> readJson(String path, Class<T> type) {
        byte[] bytes;
        try {
            bytes = readBytes(path);
        } catch (FileNotFoundException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new StoreException("cannot read " + path + ": " + e.getMessage(), e);
        }
        try {
            return Optional.of(fromJson(bytes, type));
        } catch (IOException | RuntimeException e) {
            throw new StoreException(path + " is not a valid " + type.getSimpleName() + ": " + e.getMessage(), e);
        }
    }
}
