package org.transcend.pipelines;

import org.apache.beam.sdk.options.Default;
import org.apache.beam.sdk.options.Description;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.PipelineOptionsRegistrar;

import java.util.List;

/** The Beam options every stage reads besides Beam's own: the accelerator of the network transforms, and the dry run. */
public interface TranscendOptions extends PipelineOptions {

    @Description("Accelerator resource hint for the transforms that run networks (training, the teacher's guided features, "
            + "sampling), in Beam's form, e.g. type:nvidia-tesla-t4;count:1;install-nvidia-driver. Empty: none. "
            + "Runners that do not place work by hints (local, flink) ignore it.")
    @Default.String("")
    String getAccelerator();

    void setAccelerator(String accelerator);

    @Description("Build each stage's Beam pipeline for translation only. A graph that needs facts of an upstream artifact "
            + "(the latent shape) takes them from the settings when that artifact is not built.")
    @Default.Boolean(false)
    boolean isDryRun();

    void setDryRun(boolean dryRun);

    /** Makes these options known to {@code PipelineOptionsFactory}, so {@code --accelerator=...} parses (listed in META-INF/services). */
    final class Registrar implements PipelineOptionsRegistrar {
        @Override
        public Iterable<Class<? extends PipelineOptions>> getPipelineOptions() {
            return List.of(TranscendOptions.class);
        }
    }
}
