package org.transcend.model.sit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.Fixtures;
import org.transcend.model.io.Safetensors;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.*;

class SiTForwardTest {

    @TempDir
    Path dir;

    @Test
    void reproducesTheReferenceOutputsFromTheFixtureFileAlone() throws IOException {
        Path fixture = Fixtures.file("sit_tiny.safetensors");
        Path out = dir.resolve("forward.safetensors");
        SiTForward.run(fixture, fixture, out, 4, false, OptionalInt.of(2), OptionalInt.empty());

        Safetensors.Contents reference = Safetensors.read(fixture);
        Map<String, INDArray> written = Safetensors.read(out).tensors();
        assertEquals(List.of("out", "c", "block1", "block2", "block3", "block4", "z0"), List.copyOf(written.keySet()));
        for (String name : written.keySet()) {
            double err = SiTParityTest.relativeError(written.get(name), reference.require("io." + name));
            assertTrue(err < 1e-5, name + " relative error " + err);
        }
    }

    @Test
    void acceptsOneHotLabelsUnderPlainNames() throws IOException {
        Path fixture = Fixtures.file("sit_tiny.safetensors");
        Safetensors.Contents reference = Safetensors.read(fixture);
        Map<String, INDArray> inputs = new LinkedHashMap<>();
        inputs.put("x", reference.require("io.x"));
        inputs.put("t", reference.require("io.t"));
        INDArray oneHot = Nd4j.zeros(3, 11);
        long[] labels = reference.require("io.y").toLongVector();
        for (int i = 0; i < 3; i++) oneHot.putScalar(i, labels[i], 1f);
        inputs.put("y", oneHot);
        Path in = dir.resolve("inputs.safetensors");
        Safetensors.write(in, inputs, Map.of(), Safetensors.Dtype.F32);

        Map<String, INDArray> results = SiTForward.run(fixture, in, dir.resolve("o.safetensors"), 4, false, OptionalInt.of(2), OptionalInt.empty());
        assertTrue(SiTParityTest.relativeError(results.get("out"), reference.require("io.out")) < 1e-5);
    }

    @Test
    void refusesAnInputFileWithoutTheNamedTensor() throws IOException {
        Path fixture = Fixtures.file("sit_tiny.safetensors");
        Path in = dir.resolve("inputs.safetensors");
        Safetensors.write(in, Map.of("x", Nd4j.zeros(1, 4, 8, 8)), Map.of(), Safetensors.Dtype.F32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SiTForward.run(fixture, in, dir.resolve("o.safetensors"), 4, false, OptionalInt.of(2), OptionalInt.empty()));
        assertTrue(e.getMessage().contains("no tensor 't' or 'io.t'"), e.getMessage());
    }

    /** A checkpoint with REG's global token takes g from the inputs file and writes v̂_g as 'global'. */
    @Test
    void runsACheckpointWithTheGlobalTokenOnItsFeatureG() throws IOException {
        SiT sit = SiTEngineTest.randomise(SiT.initialise(SiTEngineTest.TINY_REG, List.of(), java.util.Optional.empty(),
                org.nd4j.linalg.api.buffer.DataType.FLOAT, 26), 26);
        Path checkpoint = dir.resolve("reg.safetensors");
        Safetensors.write(checkpoint, sit.stateDict(), Map.of(), Safetensors.Dtype.F32);
        Map<String, INDArray> inputs = new LinkedHashMap<>(SiTEngineTest.inputs(sit, 2, 27));
        inputs.put("g", Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 12));
        Path in = dir.resolve("inputs.safetensors");
        Safetensors.write(in, inputs, Map.of(), Safetensors.Dtype.F32);

        Map<String, INDArray> results = SiTForward.run(checkpoint, in, dir.resolve("o.safetensors"), 4, false, OptionalInt.empty(), OptionalInt.empty());
        SiTEngine.Outputs expected = new SiTEngine(sit).forward(inputs.get("x"), inputs.get("g"), inputs.get("t"), inputs.get("y"));
        assertTrue(SiTParityTest.relativeError(results.get("global"), expected.global().orElseThrow()) < 1e-5, "global");
        assertTrue(SiTParityTest.relativeError(results.get("out"), expected.out().orElseThrow()) < 1e-5, "out");
    }
}
