package org.transcend.runners.cli;

import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.options.PipelineOptions;
import org.transcend.pipelines.Orchestrator;
import org.transcend.pipelines.Pipelines;
import org.transcend.pipelines.compare.Comparison;
import org.transcend.pipelines.config.Catalog;
import org.transcend.pipelines.config.ConfigException;
import org.transcend.pipelines.config.Setting;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.runners.Runner;
import org.transcend.runners.dataflow.DataflowDryRun;
import org.transcend.schemas.ArtifactManifest;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/** The {@code transcend} command line: run pipelines and stages, explain cache misses, list the store. */
@Command(name = "transcend", mixinStandardHelpOptions = true, version = "transcend 0.1.0",
        description = "Self-Transcendence training of diffusion transformers, as Apache Beam pipelines.",
        subcommands = {Transcend.Run.class, Transcend.Stage.class, Transcend.Explain.class, Transcend.Ls.class,
                Transcend.SettingsCommand.class, ModelCommand.class, CommandLine.HelpCommand.class})
public final class Transcend {

    public static void main(String[] args) {
        org.transcend.model.nn.DeferredDeallocation.install(); // ND4J frees buffers under running ops otherwise
        System.exit(execute(System.out, args));
    }

    /** Runs the command line and returns its exit code; errors the user can fix are printed without a stack trace. */
    public static int execute(PrintStream out, String... args) {
        CommandLine cl = new CommandLine(new Transcend());
        cl.setOut(new java.io.PrintWriter(out, true));
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
                cmd.getErr().println("error: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cl.execute(args);
    }

    /** Options every command that touches the store shares. */
    static final class Common {
        @Option(names = "--preset", description = "A bundled preset (${COMPLETION-CANDIDATES}) or a YAML file.",
                completionCandidates = PresetNames.class)
        String preset;

        @Option(names = "--set", description = "Override one setting: key=value (repeatable). See `transcend settings`.")
        List<String> overrides = new ArrayList<>();

        @Option(names = "--store", description = "Artifact store: a local directory or gs://bucket/path (default: ${DEFAULT-VALUE}).",
                defaultValue = "${env:TRANSCEND_STORE:-store}")
        String store;

        @Option(names = "--runner", defaultValue = "local", completionCandidates = RunnerNames.class,
                description = "Where the Beam pipelines run: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}). local is Beam's "
                        + "DirectRunner; flink runs Flink embedded in this JVM unless --flinkMaster names a cluster; dataflow "
                        + "submits to Google Cloud Dataflow (GPU workers for training and sampling, see --accelerator).")
        String runner;

        @Option(names = "--flinkMaster", paramLabel = "HOST:PORT",
                description = "With --runner flink: the JobManager of a Flink cluster (default: Flink embedded in this JVM).")
        String flinkMaster;

        @CommandLine.Unmatched
        List<String> beamArgs = new ArrayList<>();

        Settings settings() {
            return Settings.resolve(preset, overrides);
        }

        PipelineOptions options() {
            PipelineOptions o = Runner.named(runner).options(beamArgs, flinkMaster);
            FileSystems.setDefaultPipelineOptions(o);
            return o;
        }

        Orchestrator orchestrator(PrintStream log) {
            PipelineOptions o = options();
            return new Orchestrator(new ArtifactStore(store), settings(), o, log);
        }
    }

    static final class RunnerNames extends ArrayList<String> {
        RunnerNames() {
            super(java.util.Arrays.stream(Runner.values()).map(Runner::id).toList());
        }
    }

    static final class PresetNames extends ArrayList<String> {
        PresetNames() {
            super(Catalog.PRESETS);
        }
    }

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = "Run a pipeline: every stage whose artifact is not in the store is built; the rest are reused.")
    static final class Run implements Callable<Integer> {
        @Parameters(arity = "1..*", description = "One or more pipelines (${COMPLETION-CANDIDATES}); later ones reuse what earlier ones built.",
                completionCandidates = PipelineNames.class)
        List<String> pipelines;

        @Option(names = "--force", description = "Rebuild this stage and everything downstream of it (repeatable).")
        List<String> force = new ArrayList<>();

        @Option(names = "--dry-run", description = "With --runner dataflow: translate every stage into a Dataflow job template on "
                + "local disk and print the job graphs, offline and without credentials; nothing runs and the store is not read.")
        boolean dryRun;

        @Option(names = "--recipes", description = "compare only: the recipes to race, comma-separated (sets compare.recipes), "
                + "e.g. vanilla,vae-align,repa,sra,reg,self-transcendence.")
        String recipes;

        @Mixin
        Common common;

        @Override
        public Integer call() throws Exception {
            PrintStream out = System.out;
            if (recipes != null) {
                if (!pipelines.contains(COMPARE)) throw new ConfigException("--recipes belongs to `transcend run compare`");
                common.overrides.add(Catalog.COMPARE_RECIPES.key() + "=" + recipes);
            }
            if (dryRun) return dryRun(out);
            Orchestrator orchestrator = common.orchestrator(out);
            List<RunRecord> runs = new ArrayList<>();
            List<Comparison.Result> comparisons = new ArrayList<>();
            for (String pipeline : pipelines) {
                if (pipeline.equals(COMPARE)) {
                    if (!force.isEmpty()) throw new ConfigException("--force does not apply to compare; force the stage in the recipe's own pipeline");
                    comparisons.add(Comparison.run(orchestrator.store(), common.settings(), common.options(), out));
                } else {
                    runs.add(orchestrator.run(pipeline, new LinkedHashSet<>(force), Set.of()));
                }
            }
            for (RunRecord run : runs) Summary.print(out, run, common.store);
            Summary.compare(out, runs);
            for (Comparison.Result c : comparisons) {
                out.println();
                out.print(c.table());
                out.println("table, CSV, JSON and plot in " + c.outputDir());
            }
            return 0;
        }

        private int dryRun(PrintStream out) throws Exception {
            if (Runner.named(common.runner) != Runner.DATAFLOW) {
                throw new IllegalArgumentException("--dry-run translates for Dataflow; add --runner dataflow (the runner is " + common.runner + ")");
            }
            PipelineOptions options = common.options();
            Settings settings = common.settings();
            ArtifactStore store = new ArtifactStore(common.store);
            for (String pipeline : pipelines) {
                Path dir = Files.createTempDirectory("transcend-dry-run-" + pipeline + "-");
                List<DataflowDryRun.StageJob> jobs = DataflowDryRun.translate(Pipelines.named(pipeline, settings), settings, store, options, dir, out);
                DataflowDryRun.print(out, pipeline, jobs, dir);
            }
            return 0;
        }
    }

    @Command(name = "stage", mixinStandardHelpOptions = true,
            description = "Run one stage alone, reading its upstream artifacts from the store.")
    static final class Stage implements Callable<Integer> {
        @Parameters(index = "0", description = "Stage name, e.g. import-images.")
        String stage;

        @Option(names = "--pipeline", description = "The pipeline the stage belongs to (default: ${DEFAULT-VALUE}).", defaultValue = "import")
        String pipeline;

        @Option(names = "--force", description = "Rebuild even if the artifact is committed.")
        boolean force;

        @Mixin
        Common common;

        @Override
        public Integer call() throws Exception {
            PrintStream out = System.out;
            RunRecord run = common.orchestrator(out).run(pipeline, force ? Set.of(stage) : Set.of(), Set.of(stage));
            Summary.print(out, run, common.store);
            return 0;
        }
    }

    @Command(name = "explain", mixinStandardHelpOptions = true,
            description = "For each stage of a pipeline: its key, hit or miss, and for a miss which settings or upstream keys differ from the nearest committed artifact.")
    static final class Explain implements Callable<Integer> {
        @Parameters(index = "0", description = "Pipeline: ${COMPLETION-CANDIDATES}.", completionCandidates = PipelineNames.class)
        String pipeline;

        @Mixin
        Common common;

        @Override
        public Integer call() {
            for (String line : common.orchestrator(System.out).explain(pipeline)) System.out.println(line);
            return 0;
        }
    }

    @Command(name = "ls", mixinStandardHelpOptions = true, description = "List committed artifacts and past runs.")
    static final class Ls implements Callable<Integer> {
        @Mixin
        Common common;

        @Override
        public Integer call() {
            common.options();
            ArtifactStore store = new ArtifactStore(common.store);
            System.out.println("artifacts in " + store.root() + ":");
            for (String stage : store.stages()) {
                for (ArtifactManifest m : store.committed(stage)) {
                    System.out.printf("  %-24s %s  %tF %<tT  %s%n", stage, m.getKey().substring(0, 12), m.getCommittedAtMillis(), m.getCounts());
                }
            }
            System.out.println("runs:");
            for (RunRecord r : store.runs()) {
                long hits = r.getStages().stream().filter(StageRun::getHit).count();
                System.out.printf("  %s  %d stages, %d hits%n", r.getRunId(), r.getStages().size(), hits);
            }
            return 0;
        }
    }

    @Command(name = "settings", mixinStandardHelpOptions = true, description = "List every setting with its default, accepted values and meaning.")
    static final class SettingsCommand implements Callable<Integer> {
        @Override
        public Integer call() {
            for (Setting s : Catalog.ALL.values()) {
                System.out.printf("%-28s default %-14s accepted %s%n    %s%n", s.key(), s.defaultValue(), s.range(), s.doc());
            }
            return 0;
        }
    }

    /** The pipeline that races recipes (see {@link Comparison}); it runs the others, so it is not one of {@link Pipelines}. */
    static final String COMPARE = "compare";

    static final class PipelineNames extends ArrayList<String> {
        PipelineNames() {
            super(Pipelines.names());
            add(COMPARE);
        }
    }
}
