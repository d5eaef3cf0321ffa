package org.transcend.model.eval;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.Fixtures;
import org.transcend.model.io.Safetensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class FidInceptionWeightsTest {

    private static Map<String, INDArray> stateDict;

    @BeforeAll
    static void readTheFixtureStateDict() throws IOException {
        stateDict = new LinkedHashMap<>(Safetensors.read(Fixtures.file("fid_inception_random.safetensors")).tensors());
        stateDict.keySet().removeIf(name -> name.startsWith("io."));
    }

    private static String problemsOf(Map<String, INDArray> tensors) {
        return assertThrows(IllegalArgumentException.class, () -> FidInceptionWeights.of(tensors)).getMessage();
    }

    @Test
    void theLayoutHoldsTheNinetyFourBasicConvsOfTheReferenceStateDict() {
        assertEquals(94, FidInceptionWeights.layout().size());
        assertEquals(94 * 5 + 2, stateDict.size());
    }

    @Test
    void aMissingTensorIsNamedWithItsExpectedShape() {
        Map<String, INDArray> tensors = new LinkedHashMap<>(stateDict);
        tensors.remove("Mixed_6e.branch7x7_2.conv.weight");
        assertTrue(problemsOf(tensors).contains("missing 'Mixed_6e.branch7x7_2.conv.weight' [192, 192, 1, 7]"));
    }

    @Test
    void aMisshapenTensorIsNamedWithBothShapes() {
        Map<String, INDArray> tensors = new LinkedHashMap<>(stateDict);
        tensors.put("Mixed_5b.branch_pool.bn.running_var", Nd4j.ones(DataType.FLOAT, 64));
        assertTrue(problemsOf(tensors).contains("'Mixed_5b.branch_pool.bn.running_var' has shape [64], expected [32]"));
    }

    @Test
    void anUnexpectedTensorIsNamed() {
        Map<String, INDArray> tensors = new LinkedHashMap<>(stateDict);
        tensors.put("AuxLogits.fc.weight", Nd4j.ones(DataType.FLOAT, 1000, 768));
        assertTrue(problemsOf(tensors).contains("unexpected 'AuxLogits.fc.weight' [1000, 768]"));
    }

    @Test
    void theClassifierAndBatchCountersAreOptional() {
        Map<String, INDArray> tensors = new LinkedHashMap<>(stateDict);
        tensors.remove("fc.weight");
        tensors.remove("fc.bias");
        tensors.put("Conv2d_1a_3x3.bn.num_batches_tracked", Nd4j.scalar(0L));
        assertNotNull(FidInceptionWeights.of(tensors).conv("Conv2d_1a_3x3"));
        tensors.put("fc.bias", Nd4j.ones(DataType.FLOAT, 1000));
        assertTrue(problemsOf(tensors).contains("'fc.bias' has shape [1000], expected [1008]"));
    }

    @Test
    void foldingGivesTheConvolutionTheBatchNormScaleAndShift() {
        String c = "Mixed_7c.branch3x3dbl_3b";
        double gamma = stateDict.get(c + ".bn.weight").getDouble(5), beta = stateDict.get(c + ".bn.bias").getDouble(5);
        double mean = stateDict.get(c + ".bn.running_mean").getDouble(5), var = stateDict.get(c + ".bn.running_var").getDouble(5);
        double scale = gamma / Math.sqrt(var + 0.001);
        FidInceptionWeights.FoldedConv folded = FidInceptionWeights.of(stateDict).conv(c);
        assertEquals(stateDict.get(c + ".conv.weight").getDouble(5, 7, 2, 0) * scale, folded.weight().getDouble(5, 7, 2, 0), 1e-6 * Math.abs(scale));
        assertEquals(beta - mean * scale, folded.bias().getDouble(5), 1e-6 * (1 + Math.abs(beta - mean * scale)));
    }

    @Test
    void aBadFileIsNamedInTheError() throws IOException {
        Path file = Files.createTempFile("inception", ".safetensors");
        try {
            Safetensors.write(file, Map.of("fc.weight", Nd4j.ones(DataType.FLOAT, 1008, 2048)), Map.of(), Safetensors.Dtype.F16);
            String message = assertThrows(IllegalArgumentException.class, () -> FidInceptionWeights.read(file)).getMessage();
            assertTrue(message.startsWith(file.toString()), message);
            assertTrue(message.contains("missing 'Conv2d_1a_3x3.conv.weight' [32, 3, 3, 3]"), message);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void grayscaleImagesAreRepeatedToThreeChannelsAndValuesOutsideTheUnitIntervalRefused() {
        INDArray gray = Nd4j.rand(DataType.FLOAT, 2, 1, 4, 4);
        INDArray rgb = FidInception.checkedRgb(gray);
        for (int c = 0; c < 3; c++) {
            assertEquals(gray.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(0)),
                    rgb.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(c)));
        }
        String message = assertThrows(IllegalArgumentException.class, () -> FidInception.checkedRgb(gray.mul(2).sub(1))).getMessage();
        assertTrue(message.contains("in [0, 1]"), message);
        assertThrows(IllegalArgumentException.class, () -> FidInception.checkedRgb(Nd4j.rand(DataType.FLOAT, 2, 2, 4, 4)));
    }
}
