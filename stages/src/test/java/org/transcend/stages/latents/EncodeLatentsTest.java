package org.transcend.stages.latents;

import org.apache.beam.sdk.extensions.avro.coders.AvroCoder;
import org.apache.beam.sdk.testing.PAssert;
import org.apache.beam.sdk.testing.TestPipeline;
import org.apache.beam.sdk.testing.TestPipelineExtension;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.transcend.model.io.Safetensors;
import org.transcend.model.vae.VaeConfig;
import org.transcend.model.vae.VaeGraph;
import org.transcend.model.vae.VaeWeights;
import org.transcend.schemas.DeadLetter;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.LatentRecord;
import org.transcend.stages.io.Tensors;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.transcend.stages.vae.VaeImagesTest.image;

@ExtendWith(TestPipelineExtension.class)
class EncodeLatentsTest {

    @TempDir
    Path dir;

    @Test
    void anImageOfTheWrongShapeBecomesADeadLetterNamingItAndTheOthersAreEncoded(TestPipeline p) throws Exception {
        VaeConfig narrow = new VaeConfig(1, 1, 16, 8, List.of(1, 2), 1, List.of(), 4, true, 4).validate();
        Path weights = dir.resolve("vae.safetensors");
        Safetensors.write(weights, VaeGraph.initialParameters(narrow, 1), VaeWeights.metadata(narrow), Safetensors.Dtype.F32);
        List<ImageRecord> images = new ArrayList<>();
        for (int i = 0; i < 5; i++) images.add(image("img-" + i, 20 * i, 1, 14, 14));
        images.add(image("img-rgb", 0, 3, 14, 14));

        PCollectionTuple out = p.apply(Create.of(images).withCoder(AvroCoder.of(ImageRecord.class)))
                .apply(new EncodeLatents(new EncodeLatents.Spec(weights.toString(), 1, 16, 2)));
        PAssert.that(out.get(EncodeLatents.DEAD_LETTERS).setCoder(AvroCoder.of(DeadLetter.class))).satisfies(letters -> {
            List<DeadLetter> all = new ArrayList<>();
            letters.forEach(all::add);
            assertEquals(1, all.size());
            assertEquals("img-rgb", all.get(0).getSource());
            assertEquals("image img-rgb has shape [3, 14, 14]; expected [1, H, W] with H, W <= 16", all.get(0).getReason());
            return null;
        });
        PAssert.that(out.get(EncodeLatents.LATENTS).setCoder(AvroCoder.of(LatentRecord.class))).satisfies(latents -> {
            List<String> ids = new ArrayList<>();
            latents.forEach(r -> {
                ids.add(r.getId());
                assertArrayEquals(new long[]{4, 8, 8}, Tensors.shape(r.getMean()));
                assertArrayEquals(new long[]{4, 8, 8}, Tensors.shape(r.getStd()));
            });
            assertEquals(5, ids.size());
            return null;
        });
        p.run().waitUntilFinish();
    }
}
