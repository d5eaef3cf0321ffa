package org.transcend.runners;

import org.apache.beam.runners.dataflow.DataflowRunner;
import org.apache.beam.runners.direct.DirectRunner;
import org.apache.beam.runners.flink.FlinkPipelineOptions;
import org.apache.beam.runners.flink.FlinkRunner;
import org.apache.beam.sdk.options.PipelineOptions;
import org.junit.jupiter.api.Test;
import org.transcend.pipelines.TranscendOptions;
import org.transcend.pipelines.config.ConfigException;
import org.transcend.runners.dataflow.Accelerators;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class RunnerTest {

    @Test
    void namesMapToBeamRunners() {
        assertEquals(DirectRunner.class, Runner.named("local").options(List.of(), null).getRunner());
        PipelineOptions flink = Runner.named("flink").options(List.of(), null);
        assertEquals(FlinkRunner.class, flink.getRunner());
        assertEquals("[local]", flink.as(FlinkPipelineOptions.class).getFlinkMaster(), "embedded by default");
        assertEquals("jm:8081", Runner.FLINK.options(List.of(), "jm:8081").as(FlinkPipelineOptions.class).getFlinkMaster());
        PipelineOptions dataflow = Runner.named("dataflow").options(List.of("--region=europe-west4"), null);
        assertEquals(DataflowRunner.class, dataflow.getRunner());
        assertEquals(Accelerators.DEFAULT, dataflow.as(TranscendOptions.class).getAccelerator());
    }

    @Test
    void aBadRunnerNameListsTheAcceptedOnes() {
        ConfigException e = assertThrows(ConfigException.class, () -> Runner.named("spark"));
        assertEquals("unknown runner 'spark'; accepted: local, flink, dataflow", e.getMessage());
    }

    @Test
    void aFlinkMasterNeedsTheFlinkRunner() {
        ConfigException e = assertThrows(ConfigException.class, () -> Runner.LOCAL.options(List.of(), "jm:8081"));
        assertTrue(e.getMessage().contains("--runner flink"), e.getMessage());
    }

    @Test
    void acceleratorsTheKernelsCannotRunOnAreRefused() {
        assertEquals("type:nvidia-l4;count:1;install-nvidia-driver", Accelerators.resourceHint("nvidia-l4"));
        assertEquals("type:nvidia-tesla-a100;count:2;install-nvidia-driver",
                Accelerators.resourceHint("type:nvidia-tesla-a100;count:2;install-nvidia-driver"));
        assertEquals("", Accelerators.resourceHint("none"));
        ConfigException h100 = assertThrows(ConfigException.class, () -> Accelerators.resourceHint("nvidia-h100-80gb"));
        assertTrue(h100.getMessage().contains("compute capability 9.0") && h100.getMessage().contains("nvidia-tesla-t4 (7.5)"), h100.getMessage());
        ConfigException unknown = assertThrows(ConfigException.class, () -> Accelerators.resourceHint("nvidia-gtx-1080"));
        assertTrue(unknown.getMessage().contains("accepted: nvidia-tesla-t4 (7.5), nvidia-l4 (8.9)"), unknown.getMessage());
        PipelineOptions cpu = Runner.DATAFLOW.options(List.of("--accelerator=none"), null);
        assertEquals("", cpu.as(TranscendOptions.class).getAccelerator());
    }
}
