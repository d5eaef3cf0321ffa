package org.transcend.pipelines;

import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.config.Catalog;
import org.transcend.pipelines.steps.EvaluateStep;
import org.transcend.pipelines.steps.ImportStep;
import org.transcend.pipelines.steps.TestSetStep;
import org.transcend.pipelines.steps.TrainClassifierStep;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** The pipelines a user can run, by name; their stages may depend on the settings (for example the teacher mode). */
public final class Pipelines {
    private Pipelines() {}

    private record Entry(String description, Function<Settings, List<PipelineStage>> stages) {}

    private static final Map<String, Entry> ALL = new LinkedHashMap<>();

    static {
        ALL.put("import", new Entry("Import a dataset into the store.", s -> List.of(new ImportStep())));
        ALL.put("evaluate-test-set", new Entry("The distance of the dataset's test split (as it is, or degraded by "
                + "eval.test-set-degradation) to its imported training images: a check of the evaluation itself.", Pipelines::evaluateTestSet));
    }

    private static List<PipelineStage> evaluateTestSet(Settings s) {
        List<PipelineStage> stages = new ArrayList<>(List.of(new ImportStep()));
        if (s.get(Catalog.EVAL_FEATURES.key()).equals("classifier")) stages.add(new TrainClassifierStep());
        stages.add(new TestSetStep());
        stages.add(new EvaluateStep(TestSetStep.NAME, s));
        return stages;
    }

    public static List<String> names() {
        return List.copyOf(ALL.keySet());
    }

    public static PipelineDefinition named(String name, Settings settings) {
        Entry e = ALL.get(name);
        if (e == null) throw new IllegalArgumentException("unknown pipeline '" + name + "'; pipelines: " + String.join(", ", ALL.keySet()));
        return new PipelineDefinition(name, e.description(), e.stages().apply(settings));
    }
}
