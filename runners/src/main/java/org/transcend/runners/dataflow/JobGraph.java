package org.transcend.runners.dataflow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.beam.model.pipeline.v1.RunnerApi;
import org.apache.beam.vendor.grpc.v1p69p0.com.google.protobuf.ByteString;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The graph of a Dataflow Runner v2 job template: the template's JSON points at the staged Beam pipeline proto
 * ({@code pipelineUrl}), whose transforms carry their resource hints through their environments.
 */
public record JobGraph(Path pipelineProto, List<Transform> transforms) {

    /** Beam's URN of the accelerator resource hint. */
    static final String ACCELERATOR_URN = "beam:resources:accelerator:v1";

    /** One leaf (executed) transform: its Beam path, URN, and accelerator hint (empty for none). */
    public record Step(String name, String urn, String accelerator) {}

    /** A top-level transform of the pipeline with the leaf steps it expands to; accelerated when any step carries the hint. */
    public record Transform(String name, List<Step> steps) {
        public String accelerator() {
            return steps.stream().map(Step::accelerator).filter(a -> !a.isEmpty()).findFirst().orElse("");
        }
    }

    public static JobGraph read(Path template) throws IOException {
        JsonNode job = new ObjectMapper().readTree(template.toFile());
        String url = job.path("environment").path("sdkPipelineOptions").path("options").path("pipelineUrl").asText("");
        if (url.isEmpty()) {
            throw new IOException(template + " has no pipelineUrl: it is not a Runner v2 template (GPUs need Runner v2)");
        }
        Path proto = Path.of(url);
        RunnerApi.Pipeline pipeline = RunnerApi.Pipeline.parseFrom(Files.readAllBytes(proto));
        RunnerApi.Components c = pipeline.getComponents();
        List<Transform> transforms = new ArrayList<>();
        for (String root : pipeline.getRootTransformIdsList()) {
            List<Step> steps = new ArrayList<>();
            leaves(c, root, steps);
            transforms.add(new Transform(c.getTransformsOrThrow(root).getUniqueName(), steps));
        }
        return new JobGraph(proto, transforms);
    }

    private static void leaves(RunnerApi.Components c, String id, List<Step> out) {
        RunnerApi.PTransform t = c.getTransformsOrThrow(id);
        if (t.getSubtransformsCount() > 0) {
            for (String sub : t.getSubtransformsList()) leaves(c, sub, out);
            return;
        }
        String accelerator = "";
        if (!t.getEnvironmentId().isEmpty()) {
            ByteString hint = c.getEnvironmentsOrThrow(t.getEnvironmentId()).getResourceHintsMap().get(ACCELERATOR_URN);
            if (hint != null) accelerator = hint.toString(StandardCharsets.UTF_8);
        }
        out.add(new Step(t.getUniqueName(), t.getSpec().getUrn(), accelerator));
    }

    public List<Step> steps() {
        return transforms.stream().flatMap(t -> t.steps().stream()).toList();
    }

    /** The distinct accelerators the job's steps ask for. */
    public List<String> accelerators() {
        return steps().stream().map(Step::accelerator).filter(a -> !a.isEmpty()).distinct().toList();
    }
}
