package org.transcend.runners.dataflow;

import org.apache.beam.runners.dataflow.DataflowRunner;
import org.apache.beam.runners.dataflow.options.DataflowPipelineOptions;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.PipelineRunner;
import org.apache.beam.sdk.options.PipelineOptions;

/**
 * A runner that lets Dataflow translate a stage's pipeline into a job template (its {@code templateLocation}) and then
 * stops the stage. A stage's build both constructs and runs its pipeline and then reads what the run wrote; a dry run
 * must leave right after construction, so the end of the translation is signalled by {@link Translated}.
 */
public final class TranslateOnlyRunner extends PipelineRunner<PipelineResult> {

    /** Thrown once the template is written: the stage's pipeline was translated and must not be treated as run. */
    public static final class Translated extends RuntimeException {
        private final String templateLocation;

        Translated(String templateLocation) {
            super("translated into " + templateLocation + ", not run", null, false, false);
            this.templateLocation = templateLocation;
        }

        public String templateLocation() {
            return templateLocation;
        }
    }

    private final DataflowPipelineOptions options;

    private TranslateOnlyRunner(DataflowPipelineOptions options) {
        this.options = options;
    }

    /** Beam creates runners by this name. */
    public static TranslateOnlyRunner fromOptions(PipelineOptions options) {
        return new TranslateOnlyRunner(options.as(DataflowPipelineOptions.class));
    }

    @Override
    public PipelineResult run(Pipeline pipeline) {
        if (options.getTemplateLocation() == null) {
            throw new IllegalStateException("a translation needs --templateLocation, the file the job template is written to");
        }
        DataflowRunner.fromOptions(options).run(pipeline);
        throw new Translated(options.getTemplateLocation());
    }
}
