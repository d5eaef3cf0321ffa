package org.transcend.pipelines;

import org.transcend.pipelines.steps.ImportStep;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The pipelines a user can run, by name. */
public final class Pipelines {
    private Pipelines() {}

    public static Map<String, PipelineDefinition> all() {
        Map<String, PipelineDefinition> m = new LinkedHashMap<>();
        m.put("import", new PipelineDefinition("import", "Import a dataset into the store.", List.of(new ImportStep())));
        return m;
    }

    public static PipelineDefinition named(String name) {
        PipelineDefinition d = all().get(name);
        if (d == null) throw new IllegalArgumentException("unknown pipeline '" + name + "'; pipelines: " + String.join(", ", all().keySet()));
        return d;
    }
}
