package org.transcend.pipelines;

import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.steps.ImportStep;

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
