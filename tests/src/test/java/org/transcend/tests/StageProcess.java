package org.transcend.tests;

import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.transcend.pipelines.Orchestrator;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.RunRecord;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The child process of the kill and concurrency tests: {@code STORE PIPELINE STAGE|all [key=value]...} runs one stage
 * of a pipeline (its upstream from the store), or the whole pipeline, exactly as {@code transcend stage} and
 * {@code transcend run} do, and prints {@code RUN DONE <hit|miss per stage>} when it has committed.
 */
public final class StageProcess {
    public static final String DONE = "RUN DONE ";

    private StageProcess() {}

    public static void main(String[] args) throws Exception {
        String store = args[0], pipeline = args[1], stage = args[2];
        List<String> settings = Arrays.asList(args).subList(3, args.length);
        Orchestrator orchestrator = new Orchestrator(new ArtifactStore(store), Settings.resolve(null, settings),
                PipelineOptionsFactory.create(), System.out);
        RunRecord run = orchestrator.run(pipeline, Set.of(), stage.equals("all") ? Set.of() : Set.of(stage));
        StringBuilder hits = new StringBuilder();
        run.getStages().forEach(s -> hits.append(s.getStage()).append('=').append(s.getHit() ? "hit " : "miss "));
        System.out.println(DONE + hits.toString().trim());
        System.exit(0);
    }
}
