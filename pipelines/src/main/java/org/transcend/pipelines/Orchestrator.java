package org.transcend.pipelines;

import org.apache.avro.SchemaNormalization;
import org.apache.beam.sdk.options.PipelineOptions;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.pipelines.store.BuildLease;
import org.transcend.pipelines.store.Preimage;
import org.transcend.schemas.ArtifactManifest;
import org.transcend.schemas.PeakMemory;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Resolves every stage's cache key before anything runs, reuses committed artifacts, builds the missing ones in
 * order and commits each, and writes the run record. A stage is built only under its {@link BuildLease}, so two runs
 * on one store build each artifact once: the second waits for the first's manifest and reuses it.
 */
public final class Orchestrator {

    /** A stage with its key resolved and, when committed, its manifest. */
    public record Resolved(PipelineStage stage, Preimage preimage, String key, Optional<ArtifactManifest> committed) {}

    private final ArtifactStore store;
    private final Settings settings;
    private final PipelineOptions options;
    private final PrintStream log;

    public Orchestrator(ArtifactStore store, Settings settings, PipelineOptions options, PrintStream log) {
        this.store = store;
        this.settings = settings;
        this.options = options;
        this.log = log;
    }

    /** The named pipeline as these settings define it. */
    public PipelineDefinition definition(String pipeline) {
        return Pipelines.named(pipeline, settings);
    }

    public RunRecord run(String pipeline, Set<String> force, Set<String> only) throws Exception {
        return run(definition(pipeline), force, only);
    }

    public List<String> explain(String pipeline) {
        return explain(definition(pipeline));
    }

    /** Keys of every stage of the definition, upstream first, each with its manifest when committed. */
    public List<Resolved> resolve(PipelineDefinition def) {
        return resolve(def, true);
    }

    /**
     * Keys of every stage of the definition, upstream first; {@code lookUp} false computes the keys without reading
     * the store (a dry run must not reach a remote store), so none is marked committed.
     */
    public List<Resolved> resolve(PipelineDefinition def, boolean lookUp) {
        Map<String, Resolved> byName = new LinkedHashMap<>();
        for (PipelineStage s : def.stages()) {
            Map<String, String> fields = new TreeMap<>();
            fields.put("stage", s.name());
            fields.put("stage.version", Integer.toString(s.version()));
            fields.put("schema", Long.toHexString(SchemaNormalization.parsingFingerprint64(s.outputSchema())));
            settings.subset(s.settingKeys(settings)).forEach((k, v) -> fields.put("setting." + k, v));
            for (String up : s.upstream()) {
                Resolved r = byName.get(up);
                if (r == null) throw new IllegalStateException(s.name() + " reads " + up + ", which is not earlier in " + def.name());
                fields.put("upstream." + up, r.key());
            }
            Preimage pre = Preimage.of(fields);
            byName.put(s.name(), new Resolved(s, pre, pre.key(), lookUp ? store.committed(s.name(), pre.key()) : Optional.empty()));
        }
        return new ArrayList<>(byName.values());
    }

    /**
     * Runs a pipeline. Stages in {@code force} (and everything downstream of them) are rebuilt even when
     * committed. When {@code only} is non-empty just those stages run and their upstream must already be committed.
     */
    public RunRecord run(PipelineDefinition def, Set<String> force, Set<String> only) throws Exception {
        for (String f : force) def.stage(f);
        for (String o : only) def.stage(o);
        long started = System.currentTimeMillis();
        List<Resolved> resolved = resolve(def);
        Set<String> rebuild = new HashSet<>(force);
        Map<String, String> keys = new LinkedHashMap<>();
        List<StageRun> runs = new ArrayList<>();
        for (Resolved r : resolved) {
            PipelineStage s = r.stage();
            keys.put(s.name(), r.key());
            boolean forced = rebuild.contains(s.name()) || s.upstream().stream().anyMatch(rebuild::contains);
            if (forced) rebuild.add(s.name());
            if (!only.isEmpty() && !only.contains(s.name())) {
                if (r.committed().isEmpty()) {
                    if (only.stream().anyMatch(o -> dependsOn(def, o, s.name()))) {
                        throw new IllegalStateException("stage " + s.name() + " (key " + r.key().substring(0, 12)
                                + ") is not in the store " + store.root() + "; run the pipeline or `transcend stage "
                                + s.name() + "` first");
                    }
                }
                continue;
            }
            long t0 = System.currentTimeMillis();
            Optional<BuildLease> lease = forced || r.committed().isEmpty()
                    ? store.claim(s.name(), r.key(), forced, log) : Optional.empty();
            if (lease.isEmpty()) {
                runs.add(reused(s, r.key(), r.committed().or(() -> store.committed(s.name(), r.key())).orElseThrow(), t0));
                continue;
            }
            try (BuildLease held = lease.get()) {
                Optional<ArtifactManifest> now = store.committed(s.name(), r.key());
                if (now.isPresent() && !forced) {
                    runs.add(reused(s, r.key(), now.get(), t0)); // another run committed it while this one took the lease
                    continue;
                }
                if (now.isPresent()) store.invalidate(s.name(), r.key());
                store.clearPartials(s.name(), r.key());
                log.printf("%-24s miss  %s  building...%n", s.name(), r.key().substring(0, 12));
                Map<String, String> upDirs = new LinkedHashMap<>();
                Map<String, String> upKeys = new LinkedHashMap<>();
                for (String up : s.upstream()) {
                    upKeys.put(up, keys.get(up));
                    upDirs.put(up, store.dir(up, keys.get(up)));
                }
                StageContext ctx = new StageContext(settings, store, r.key(), store.dir(s.name(), r.key()), upDirs, upKeys, options);
                StageOutcome out;
                PeakMemory memory;
                try (MemoryMeter meter = MemoryMeter.start()) {
                    out = s.build(ctx);
                    memory = meter.stop();
                }
                ArtifactManifest m = store.commit(s.name(), s.version(), r.preimage(), out.counts(), out.metrics());
                long wall = System.currentTimeMillis() - t0;
                runs.add(new StageRun(s.name(), r.key(), false, wall, m.getCounts(), out.deadLetters(), m.getMetrics(), memory));
                log.printf("%-24s done  %s  %.1f s  peak RSS %s  %s%n", s.name(), r.key().substring(0, 12), wall / 1000.0,
                        MemoryMeter.format(memory.getResidentBytes()), out.counts());
            }
        }
        RunRecord record = new RunRecord(runId(def.name(), started), def.name(), started, runs);
        store.writeRun(record);
        return record;
    }

    /** A stage whose committed artifact is reused, by this run's resolution or after waiting for another run. */
    private StageRun reused(PipelineStage s, String key, ArtifactManifest m, long t0) {
        log.printf("%-24s hit   %s%n", s.name(), key.substring(0, 12));
        return new StageRun(s.name(), key, true, System.currentTimeMillis() - t0, m.getCounts(),
                m.getCounts().getOrDefault("dead_letters", 0L), m.getMetrics(), null);
    }

    private static boolean dependsOn(PipelineDefinition def, String stage, String upstream) {
        for (String up : def.stage(stage).upstream()) {
            if (up.equals(upstream) || dependsOn(def, up, upstream)) return true;
        }
        return false;
    }

    private static String runId(String pipeline, long started) {
        return String.format("%tY%<tm%<td-%<tH%<tM%<tS-%s-%s", started, pipeline, UUID.randomUUID().toString().substring(0, 8));
    }

    /** For each stage: hit, or for a miss the preimage fields that differ from the nearest committed artifact. */
    public List<String> explain(PipelineDefinition def) {
        List<String> lines = new ArrayList<>();
        for (Resolved r : resolve(def)) {
            String name = r.stage().name();
            if (r.committed().isPresent()) {
                lines.add(String.format("%-24s hit   %s", name, r.key()));
                continue;
            }
            List<ArtifactManifest> others = store.committed(name);
            if (others.isEmpty()) {
                lines.add(String.format("%-24s miss  %s  (no committed artifact of this stage yet)", name, r.key()));
                continue;
            }
            ArtifactManifest nearest = null;
            List<String> nearestDiff = null;
            for (ArtifactManifest m : others) {
                List<String> d = r.preimage().differingFields(Preimage.of(m.getPreimage()));
                if (nearestDiff == null || d.size() < nearestDiff.size()) {
                    nearest = m;
                    nearestDiff = d;
                }
            }
            lines.add(String.format("%-24s miss  %s  nearest %s differs in:", name, r.key(), nearest.getKey().substring(0, 12)));
            for (String f : nearestDiff) {
                lines.add(String.format("%-24s         %s: %s -> %s", "", f, nearest.getPreimage().getOrDefault(f, "(absent)"),
                        r.preimage().fields().getOrDefault(f, "(absent)")));
            }
        }
        return lines;
    }

    public ArtifactStore store() {
        return store;
    }

}
