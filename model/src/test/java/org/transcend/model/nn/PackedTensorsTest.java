package org.transcend.model.nn;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.train.AdamW;
import org.transcend.model.train.Ema;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PackedTensorsTest {

    private static Map<String, INDArray> tensors() {
        Nd4j.getRandom().setSeed(3);
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("a.weight", Nd4j.randn(DataType.FLOAT, 5, 3));
        t.put("a.bias", Nd4j.randn(DataType.FLOAT, 5));
        t.put("conv", Nd4j.randn(DataType.FLOAT, 2, 3, 2, 2));
        return t;
    }

    @Test
    void viewsShareTheFlatBufferInOrderAndRowMajor() {
        Map<String, INDArray> t = tensors();
        PackedTensors packed = PackedTensors.copyOf(t, DataType.FLOAT);
        assertEquals(15 + 5 + 24, packed.flat().length());
        t.forEach((name, a) -> assertEquals(a, packed.views().get(name), name));
        // a.bias starts after a.weight's 15 values; conv is row-major after that
        assertEquals(t.get("a.bias").getFloat(2), packed.flat().getFloat(17), 0f);
        assertEquals(t.get("conv").getFloat(1, 2, 0, 1), packed.flat().getFloat(20 + 12 + 8 + 1), 0f);

        packed.flat().muli(2);
        assertEquals(t.get("conv").mul(2), packed.views().get("conv"), "a change of the flat buffer shows in the views");
        packed.views().get("a.bias").assign(7);
        assertEquals(7f, packed.flat().getFloat(15), 0f);
        assertEquals(packed.flat().getFloat(14), packed.views().get("a.weight").getFloat(4, 2), 0f);
    }

    @Test
    void matrixProductsWriteIntoViews() {
        PackedTensors packed = PackedTensors.copyOf(tensors(), DataType.FLOAT);
        INDArray x = Nd4j.randn(DataType.FLOAT, 4, 5), y = Nd4j.randn(DataType.FLOAT, 4, 3);
        INDArray w = packed.views().get("a.weight"); // not the first stretch: has an offset
        Nd4j.gemm(x, y, w, true, false, 1.0, 0.0);
        assertEquals(x.transpose().mmul(y), w);
        assertEquals(x.transpose().mmul(y).reshape(15), packed.flat().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 15)));
        INDArray b = packed.views().get("a.bias").reshape(1, 5);
        Nd4j.gemm(Nd4j.ones(DataType.FLOAT, 1, 4), x, b, false, false, 1.0, 0.0);
        assertEquals(x.sum(0), packed.views().get("a.bias"));
    }

    /** AdamW and the EMA on the flat buffer give, value by value, what they give tensor by tensor. */
    @Test
    void optimiserOnTheFlatBufferEqualsItPerTensor() {
        Map<String, INDArray> separate = new LinkedHashMap<>();
        tensors().forEach((k, a) -> separate.put(k, a.dup()));
        PackedTensors packed = PackedTensors.copyOf(separate, DataType.FLOAT);
        PackedTensors grads = packed.zerosLike();
        AdamW perTensor = new AdamW(new AdamW.Hyper(1e-2, 0.9, 0.999, 1e-8, 0.01)), flat = new AdamW(perTensor.hyper());
        Ema emaPerTensor = new Ema(0.9, separate), emaFlat = new Ema(0.9, Map.of("all", packed.flat()));
        for (int step = 1; step <= 3; step++) {
            Map<String, INDArray> g = new LinkedHashMap<>();
            for (String name : separate.keySet()) g.put(name, Nd4j.randn(DataType.FLOAT, separate.get(name).shape()));
            grads.flat().assign(grads.pack(g));
            perTensor.update(separate, g, step);
            flat.update(Map.of("all", packed.flat()), Map.of("all", grads.flat()), step);
            emaPerTensor.update(separate);
            emaFlat.update(Map.of("all", packed.flat()));
        }
        Map<String, INDArray> emaViews = packed.viewsOf(emaFlat.weights().get("all"));
        for (String name : separate.keySet()) {
            assertArrayEquals(values(separate.get(name)), values(packed.views().get(name)), 0f, name);
            assertArrayEquals(values(emaPerTensor.weights().get(name)), values(emaViews.get(name)), 0f, name);
        }
    }

    private static float[] values(INDArray a) {
        return a.dup().reshape(a.length()).toFloatVector();
    }

    @Test
    void packRefusesTensorsThatDoNotFitAndNamesThem() {
        PackedTensors packed = PackedTensors.copyOf(tensors(), DataType.FLOAT);
        Map<String, INDArray> bad = new LinkedHashMap<>(tensors());
        bad.remove("a.bias");
        bad.put("conv", Nd4j.zeros(DataType.FLOAT, 2, 3, 4));
        bad.put("extra", Nd4j.zeros(DataType.FLOAT, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> packed.pack(bad));
        assertTrue(e.getMessage().contains("missing 'a.bias' [5]"), e.getMessage());
        assertTrue(e.getMessage().contains("'conv' has shape [2, 3, 4], expected [2, 3, 2, 2]"), e.getMessage());
        assertTrue(e.getMessage().contains("unexpected 'extra'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> packed.viewsOf(Nd4j.zeros(DataType.FLOAT, 43)));
    }

    @Test
    void layoutsCompareByNamesOrderAndShapes() {
        PackedTensors packed = PackedTensors.copyOf(tensors(), DataType.FLOAT);
        assertTrue(packed.sameLayout(packed.zerosLike()));
        Map<String, INDArray> reordered = new LinkedHashMap<>();
        reordered.put("a.bias", Nd4j.zeros(DataType.FLOAT, 5));
        reordered.put("a.weight", Nd4j.zeros(DataType.FLOAT, 5, 3));
        reordered.put("conv", Nd4j.zeros(DataType.FLOAT, 2, 3, 2, 2));
        assertFalse(packed.sameLayout(PackedTensors.copyOf(reordered, DataType.FLOAT)));
    }
}
