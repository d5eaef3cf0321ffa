package org.transcend.runners;

import org.apache.beam.runners.dataflow.DataflowRunner;
import org.apache.beam.runners.direct.DirectRunner;
import org.apache.beam.runners.flink.FlinkPipelineOptions;
import org.apache.beam.runners.flink.FlinkRunner;
import org.apache.beam.sdk.options.ExperimentalOptions;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.transcend.pipelines.TranscendOptions;
import org.transcend.pipelines.config.ConfigException;
import org.transcend.runners.dataflow.Accelerators;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** Where a run's Beam pipelines execute, under the names the command line accepts. */
public enum Runner {
    /** Beam's DirectRunner in this JVM. */
    LOCAL,
    /** Beam's FlinkRunner: Flink embedded in this JVM ({@code [local]}), or a cluster's JobManager. */
    FLINK,
    /** Google Cloud Dataflow: GPU workers for the network transforms, CPU workers for the rest. */
    DATAFLOW;

    /** Flink's address for a cluster started inside this JVM. */
    public static final String EMBEDDED_FLINK = "[local]";

    /** The runner's name on the command line. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static String accepted() {
        return Arrays.stream(values()).map(Runner::id).collect(Collectors.joining(", "));
    }

    public static Runner named(String id) {
        for (Runner r : values()) if (r.id().equals(id)) return r;
        throw new ConfigException("unknown runner '" + id + "'; accepted: " + accepted());
    }

    /**
     * Beam options for this runner from the user's Beam arguments ({@code --name=value}). {@code flinkMaster} is a
     * Flink cluster's {@code host:port}, or null for Flink embedded in this JVM; only the flink runner takes one.
     */
    public PipelineOptions options(List<String> beamArgs, String flinkMaster) {
        for (String a : beamArgs) {
            if (!a.startsWith("--")) throw new ConfigException("unexpected argument '" + a + "'; Beam options are written --name=value");
        }
        if (flinkMaster != null && this != FLINK) {
            throw new ConfigException("--flinkMaster " + flinkMaster + " names a Flink cluster, but the runner is " + id()
                    + "; add --runner flink");
        }
        PipelineOptions o = PipelineOptionsFactory.fromArgs(beamArgs.toArray(String[]::new)).withValidation().create();
        switch (this) {
            case LOCAL -> o.setRunner(DirectRunner.class);
            case FLINK -> {
                o.setRunner(FlinkRunner.class);
                o.as(FlinkPipelineOptions.class).setFlinkMaster(flinkMaster == null ? EMBEDDED_FLINK : flinkMaster);
            }
            case DATAFLOW -> {
                o.setRunner(DataflowRunner.class);
                // Dataflow gives GPUs to Runner v2 jobs only.
                ExperimentalOptions.addExperiment(o.as(ExperimentalOptions.class), "use_runner_v2");
                TranscendOptions t = o.as(TranscendOptions.class);
                t.setAccelerator(Accelerators.resourceHint(t.getAccelerator()));
            }
        }
        return o;
    }
}
