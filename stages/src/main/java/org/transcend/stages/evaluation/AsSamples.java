package org.transcend.stages.evaluation;

import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PCollection;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.SampleRecord;
import org.transcend.stages.io.Tensors;
import org.transcend.stages.sampling.Images;

import java.nio.ByteBuffer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Real images dressed as generated samples (optionally degraded), so the evaluation can be checked on a held-out
 * split whose distance to the training images should be near zero. A sample's index is the image's position in
 * its split, the number that ends its id.
 */
public final class AsSamples extends PTransform<PCollection<ImageRecord>, PCollection<SampleRecord>> {

    private static final Pattern POSITION = Pattern.compile("(\\d+)$");

    private final Degradation degradation;
    private final long seed;

    public AsSamples(Degradation degradation, long seed) {
        this.degradation = degradation;
        this.seed = seed;
    }

    @Override
    public PCollection<SampleRecord> expand(PCollection<ImageRecord> images) {
        Degradation d = degradation;
        long s = seed;
        return images.apply("As " + d.name().toLowerCase() + " samples", ParDo.of(new DoFn<ImageRecord, SampleRecord>() {
            @ProcessElement
            public void process(@Element ImageRecord image, OutputReceiver<SampleRecord> out) {
                long[] shape = Tensors.shape(image.getPixels());
                Matcher m = POSITION.matcher(image.getId());
                if (shape.length != 3 || !m.find()) {
                    throw new IllegalArgumentException("image " + image.getId() + " of shape " + java.util.Arrays.toString(shape)
                            + "; accepted: [C, H, W] pixels and an id ending in its position");
                }
                int c = (int) shape[0], h = (int) shape[1], w = (int) shape[2];
                long index = Long.parseLong(m.group(1));
                byte[] pixels = d.apply(Tensors.bytes(image.getPixels()), c, h, w, s, index);
                out.output(new SampleRecord(index, image.getLabel(), s, Tensors.uint8(pixels, shape),
                        ByteBuffer.wrap(Images.png(pixels, c, h, w))));
            }
        }));
    }
}
