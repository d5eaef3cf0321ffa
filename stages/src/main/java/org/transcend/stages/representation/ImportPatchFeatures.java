package org.transcend.stages.representation;

import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PCollection;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.schemas.DType;
import org.transcend.schemas.ImageRecord;
import org.transcend.schemas.PatchFeatures;
import org.transcend.stages.io.Tensors;

import java.io.IOException;

/**
 * The ImportPatchFeatures stage: each imported image gets its row of the user's REPA feature file, as a
 * {@link PatchFeatures} record. An image without a row stops the stage with its id named: REPA needs a target for
 * every image the student sees.
 */
public final class ImportPatchFeatures extends PTransform<PCollection<ImageRecord>, PCollection<PatchFeatures>> {

    public static final String NAMESPACE = "repa-targets";

    private final String file;

    public ImportPatchFeatures(String file) {
        this.file = file;
    }

    @Override
    public PCollection<PatchFeatures> expand(PCollection<ImageRecord> images) {
        return images.apply("Look up each image's features", ParDo.of(new LookUpFn(file)));
    }

    static final class LookUpFn extends DoFn<ImageRecord, PatchFeatures> {
        private final String file;
        private final Counter found = Metrics.counter(NAMESPACE, "features");
        private transient PatchFeatureFile features;

        LookUpFn(String file) {
            this.file = file;
        }

        @Setup
        public void setup() throws IOException {
            features = PatchFeatureFile.read(file);
        }

        @ProcessElement
        public void process(@Element ImageRecord image, OutputReceiver<PatchFeatures> out) {
            float[] row = features.row(image.getId()).orElseThrow(() -> new IllegalArgumentException("the REPA feature file "
                    + file + " has no row for image '" + image.getId() + "'; every imported image needs one (its ids look like "
                    + features.exampleIds() + ")"));
            out.output(new PatchFeatures(image.getId(), Tensors.encode(Nd4j.create(row, new long[]{features.tokens(), features.dim()}, 'c'),
                    DType.FLOAT32)));
            found.inc();
        }
    }
}
