package org.transcend.model.sit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.Fixtures;
import org.transcend.model.io.Safetensors;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.*;

class SiTParityTest {

    static Safetensors.Contents fixture;
    static SiT sit;

    @BeforeAll
    static void load() throws IOException {
        fixture = Safetensors.read(Fixtures.file("sit_tiny.safetensors"));
        sit = SiT.fromStateDict(weightsOnly(fixture.tensors()), 4, false, OptionalInt.of(2), OptionalInt.empty());
    }

    static Map<String, INDArray> weightsOnly(Map<String, INDArray> tensors) {
        Map<String, INDArray> w = new LinkedHashMap<>(tensors);
        w.keySet().removeIf(n -> n.startsWith("io."));
        return w;
    }

    static double relativeError(INDArray actual, INDArray expected) {
        return actual.castTo(DataType.DOUBLE).sub(expected.castTo(DataType.DOUBLE)).norm2Number().doubleValue()
                / expected.castTo(DataType.DOUBLE).norm2Number().doubleValue();
    }

    @Test
    void infersTheFixtureConfigFromTensorShapes() {
        SiTConfig c = sit.config();
        assertEquals(new SiTConfig(8, 2, 4, 64, 4, 4, 4.0, 10, false, 0.1), c);
        assertEquals(new ProjectorHead(2, 128, 32), sit.projectors().get(0));
    }

    @Test
    void everyReferenceOutputAgreesWithinOneInAHundredThousand() {
        SameDiff sd = SameDiff.create();
        SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, 4, 8, 8);
        SDVariable t = sd.placeHolder("t", DataType.FLOAT, -1);
        SDVariable y = sd.placeHolder("y", DataType.FLOAT, -1, 11);
        SiTOutputs o = sit.build(sd, x, t, y);
        Map<String, String> names = new LinkedHashMap<>();
        names.put("io.c", o.c().name());
        for (int k = 1; k <= 4; k++) names.put("io.block" + k, o.block(k).name());
        names.put("io.z0", o.projections().get(0).name());
        names.put("io.out", o.out().orElseThrow().name());
        Map<String, INDArray> feed = Map.of("x", fixture.require("io.x"), "t", fixture.require("io.t"),
                "y", sit.oneHot(fixture.require("io.y").toLongVector()));
        Map<String, INDArray> got = sd.output(feed, names.values().toArray(String[]::new));
        for (Map.Entry<String, String> e : names.entrySet()) {
            INDArray expected = fixture.require(e.getKey());
            INDArray actual = got.get(e.getValue());
            assertArrayEquals(expected.shape(), actual.shape(), e.getKey());
            double err = relativeError(actual, expected);
            System.out.printf("%s relative error %.3g%n", e.getKey(), err);
            assertTrue(err < 1e-5, e.getKey() + " relative error " + err);
        }
    }
}
