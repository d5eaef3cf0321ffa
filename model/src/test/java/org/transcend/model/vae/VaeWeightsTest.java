package org.transcend.model.vae;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.Fixtures;
import org.transcend.model.io.Safetensors;
import org.transcend.model.io.WeightsFileException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VaeWeightsTest {

    @TempDir
    Path dir;

    @Test
    void loadsTheOlderDiffusersAttentionNames() throws IOException {
        Safetensors.Contents ref = Safetensors.read(Fixtures.file("vae_tiny_diffusers.safetensors"));
        Map<String, INDArray> older = new LinkedHashMap<>();
        ref.tensors().forEach((name, value) -> older.put(name.replace(".to_q.", ".query.").replace(".to_k.", ".key.")
                .replace(".to_v.", ".value.").replace(".to_out.0.", ".proj_attn."), value));
        assertEquals(ref.require("encoder.mid_block.attentions.0.to_q.weight"), older.get("encoder.mid_block.attentions.0.query.weight"));

        AutoencoderKL vae = VaeWeights.load(write("older.safetensors", older, Safetensors.Dtype.F32), 16);
        AutoencoderKLParityTest.assertMatchesReference(vae, ref, 1e-5);
    }

    @Test
    void loadsHalfPrecisionWeightsAsFloat32() throws IOException {
        Safetensors.Contents ref = Safetensors.read(Fixtures.file("vae_tiny_ldm.safetensors"));
        AutoencoderKL vae = VaeWeights.load(write("half.safetensors", ref.tensors(), Safetensors.Dtype.F16), VaeConfig.tiny());
        INDArray halfRounded = ref.require("decoder.conv_out.weight").castTo(DataType.HALF).castTo(DataType.FLOAT);
        assertEquals(halfRounded, vae.stateDict().get("decoder.conv_out.weight"));
        AutoencoderKLParityTest.assertMatchesReference(vae, ref, 1e-2);
    }

    @Test
    void namesAMissingTensorAndItsExpectedShape() throws IOException {
        Map<String, INDArray> tensors = fixture("vae_tiny_ldm.safetensors");
        tensors.remove("encoder.mid.attn_1.q.weight");
        Path file = write("missing.safetensors", tensors, Safetensors.Dtype.F32);
        var e = assertThrows(WeightsFileException.class, () -> VaeWeights.load(file, VaeConfig.tiny()));
        assertEquals(file + ": missing tensor 'encoder.mid.attn_1.q.weight' of shape [64, 64, 1, 1]", e.getMessage());
    }

    @Test
    void namesAMissingDiffusersTensorByItsLatentDiffusionName() throws IOException {
        Map<String, INDArray> tensors = fixture("vae_tiny_diffusers.safetensors");
        tensors.remove("decoder.up_blocks.0.upsamplers.0.conv.bias");
        Path file = write("missing.safetensors", tensors, Safetensors.Dtype.F32);
        var e = assertThrows(WeightsFileException.class, () -> VaeWeights.load(file, 16));
        assertEquals(file + ": missing tensor 'decoder.up.1.upsample.conv.bias' of shape [64]", e.getMessage());
    }

    @Test
    void namesATensorOfTheWrongShapeAndTheShapeExpected() throws IOException {
        Map<String, INDArray> tensors = fixture("vae_tiny_diffusers.safetensors");
        tensors.put("encoder.down_blocks.1.resnets.0.conv_shortcut.weight", Nd4j.zeros(DataType.FLOAT, 64, 32, 3, 3));
        Path file = write("wrong.safetensors", tensors, Safetensors.Dtype.F32);
        var e = assertThrows(WeightsFileException.class, () -> VaeWeights.load(file, 16));
        assertEquals(file + ": tensor 'encoder.down_blocks.1.resnets.0.conv_shortcut.weight' (latent-diffusion name "
                + "'encoder.down.1.block.0.nin_shortcut.weight') has shape [64, 32, 3, 3]; expected [64, 32, 1, 1]", e.getMessage());
    }

    @Test
    void rejectsAnExtraTensorInsideTheAutoencoder() throws IOException {
        Map<String, INDArray> tensors = fixture("vae_tiny_ldm.safetensors");
        tensors.put("encoder.down.0.block.0.temb_proj.weight", Nd4j.zeros(DataType.FLOAT, 32, 512));
        Path file = write("extra.safetensors", tensors, Safetensors.Dtype.F32);
        var e = assertThrows(WeightsFileException.class, () -> VaeWeights.load(file, VaeConfig.tiny()));
        assertEquals(file + ": extra tensor 'encoder.down.0.block.0.temb_proj.weight' of shape [32, 512] is no parameter of "
                + VaeConfig.tiny(), e.getMessage());
    }

    @Test
    void rejectsAFileWhoseShapesTellAnotherConfiguration() throws IOException {
        Path file = Fixtures.file("vae_tiny_ldm.safetensors");
        var e = assertThrows(WeightsFileException.class, () -> VaeWeights.load(file, VaeConfig.fashionMnist()));
        assertEquals(file + ": missing tensor 'encoder.down.1.downsample.conv.weight' of shape [64, 64, 3, 3] and 27 more: "
                + "encoder.down.1.downsample.conv.bias, encoder.down.2.block.0.norm1.weight, encoder.down.2.block.0.norm1.bias, ...", e.getMessage());
    }

    @Test
    void infersLevelAttentionFromTheTensorNamesAndRunsIt() throws IOException {
        VaeConfig attending = new VaeConfig(3, 2, 16, 32, List.of(1, 2), 1, List.of(8), 4, true).validate();
        Path file = write("attending.safetensors", VaeGraph.initialParameters(attending, 2), Safetensors.Dtype.F32);
        AutoencoderKL vae = VaeWeights.load(file, 16);
        assertEquals(attending, vae.config());
        assertArrayEquals(new long[]{64, 64, 1, 1}, vae.stateDict().get("decoder.up.1.attn.1.q.weight").shape());
        Posterior posterior = vae.encode(Nd4j.rand(DataType.FLOAT, 2, 3, 16, 16));
        assertArrayEquals(new long[]{2, 4, 8, 8}, posterior.mean().shape());
        assertArrayEquals(new long[]{2, 2, 16, 16}, vae.decode(posterior.mean()).shape());
    }

    @Test
    void readsTheGroupCountOfAVaeTrainedHereFromTheMetadata() throws IOException {
        VaeConfig narrow = new VaeConfig(1, 1, 16, 8, List.of(1, 2), 1, List.of(), 4, true, 4).validate();
        Path file = dir.resolve("narrow.safetensors");
        Safetensors.write(file, VaeGraph.initialParameters(narrow, 2), VaeWeights.metadata(narrow), Safetensors.Dtype.F32);
        AutoencoderKL vae = VaeWeights.load(file, 16);
        assertEquals(narrow, vae.config());
        assertArrayEquals(new long[]{3, 4, 8, 8}, vae.encode(Nd4j.zeros(DataType.FLOAT, 3, 1, 16, 16)).mean().shape());
    }

    @Test
    void saysWhichGroupCountItAssumedWhenTheMetadataHasNone() throws IOException {
        VaeConfig narrow = new VaeConfig(1, 1, 16, 8, List.of(1, 2), 1, List.of(), 4, true, 4).validate();
        Path file = write("narrow.safetensors", VaeGraph.initialParameters(narrow, 2), Safetensors.Dtype.F32);
        var e = assertThrows(WeightsFileException.class, () -> VaeWeights.load(file, 16));
        assertEquals(file + ": channelMultipliers[0] = 1 gives 8 channels at that level; accepted: a positive multiplier giving a "
                + "multiple of 32 channels (GroupNorm has 32 groups); the file's metadata has no 'norm_groups', so latent "
                + "diffusion's 32 groups were assumed", e.getMessage());
    }

    @Test
    void namesTheFileWhenItsHeaderIsCorrupt() throws IOException {
        Path file = dir.resolve("corrupt.safetensors");
        byte[] bytes = java.nio.file.Files.readAllBytes(Fixtures.file("vae_tiny_ldm.safetensors"));
        bytes[8] = '['; // the header must be a JSON object
        java.nio.file.Files.write(file, bytes);
        var e = assertThrows(WeightsFileException.class, () -> VaeWeights.load(file, 16));
        assertTrue(e.getMessage().startsWith(file + ": header is not JSON"), e.getMessage());
    }

    @Test
    void mapsDiffusersNamesToLatentDiffusionNames() {
        assertEquals("decoder.up.2.block.1.nin_shortcut.weight", VaeWeights.fromDiffusers("decoder.up_blocks.1.resnets.1.conv_shortcut.weight", 4));
        assertEquals("encoder.down.3.downsample.conv.bias", VaeWeights.fromDiffusers("encoder.down_blocks.3.downsamplers.0.conv.bias", 4));
        assertEquals("decoder.mid.attn_1.proj_out.weight", VaeWeights.fromDiffusers("decoder.mid_block.attentions.0.proj_attn.weight", 4));
        assertEquals("encoder.mid.block_2.norm2.bias", VaeWeights.fromDiffusers("encoder.mid_block.resnets.1.norm2.bias", 4));
        assertEquals("encoder.down.1.attn.0.norm.weight", VaeWeights.fromDiffusers("encoder.down_blocks.1.attentions.0.group_norm.weight", 4));
        assertEquals("decoder.norm_out.weight", VaeWeights.fromDiffusers("decoder.conv_norm_out.weight", 4));
    }

    @Test
    void rejectsMixedNamings() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> VaeWeights.detect(List.of("encoder.down.0.block.0.norm1.weight", "decoder.up_blocks.0.resnets.0.norm1.weight")));
        assertEquals("the file mixes namings: 'encoder.down.0.block.0.norm1.weight' is latent diffusion's, "
                + "'decoder.up_blocks.0.resnets.0.norm1.weight' is diffusers'; accepted: one naming throughout", e.getMessage());
    }

    private static Map<String, INDArray> fixture(String name) throws IOException {
        return new LinkedHashMap<>(Safetensors.read(Fixtures.file(name)).tensors());
    }

    private Path write(String name, Map<String, INDArray> tensors, Safetensors.Dtype type) throws IOException {
        Path file = dir.resolve(name);
        Safetensors.write(file, tensors, Map.of(), type);
        return file;
    }
}
