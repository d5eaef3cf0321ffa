package org.transcend.pipelines;

import java.util.List;

/** A named composition of stages, upstream first. */
public record PipelineDefinition(String name, String description, List<PipelineStage> stages) {

    public PipelineStage stage(String stageName) {
        for (PipelineStage s : stages) if (s.name().equals(stageName)) return s;
        throw new IllegalArgumentException("pipeline " + name + " has no stage '" + stageName + "'; its stages: "
                + stages.stream().map(PipelineStage::name).toList());
    }
}
