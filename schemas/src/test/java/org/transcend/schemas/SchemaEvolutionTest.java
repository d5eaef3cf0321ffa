package org.transcend.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Files outlive code: a newer reader must read older files and an older reader newer ones. */
class SchemaEvolutionTest {

    @TempDir
    File dir;

    private static Tensor tensor() {
        return Tensor.newBuilder().setShape(List.of(1L, 2L, 2L)).setDtype(DType.UINT8)
                .setData(ByteBuffer.wrap(new byte[]{1, 2, 3, (byte) 255})).build();
    }

    /** The current ImageRecord schema plus an optional field a later version might add. */
    private static Schema withOptionalCaption() {
        Schema current = ImageRecord.getClassSchema();
        SchemaBuilder.FieldAssembler<Schema> fields = SchemaBuilder.record(current.getName())
                .namespace(current.getNamespace()).fields();
        for (Schema.Field f : current.getFields()) {
            fields = fields.name(f.name()).type(f.schema()).noDefault();
        }
        return fields.name("caption").type().unionOf().nullType().and().stringType().endUnion().nullDefault().endRecord();
    }

    @Test
    void aReaderWithAnAddedOptionalFieldReadsFilesOfTheCurrentSchema() throws IOException {
        File f = new File(dir, "current.avro");
        ImageRecord written = ImageRecord.newBuilder().setId("fmnist-train-000000").setLabel(9)
                .setPixels(tensor()).setSource("train-images-idx3-ubyte.gz#0").build();
        try (DataFileWriter<ImageRecord> w = new DataFileWriter<>(new SpecificDatumWriter<>(ImageRecord.class))) {
            w.create(ImageRecord.getClassSchema(), f);
            w.append(written);
        }
        Schema reader = withOptionalCaption();
        try (DataFileReader<GenericRecord> r = new DataFileReader<>(f, new GenericDatumReader<>(null, reader))) {
            GenericRecord back = r.next();
            assertEquals("fmnist-train-000000", back.get("id").toString());
            assertEquals(9, back.get("label"));
            assertNull(back.get("caption"));
        }
    }

    @Test
    void theCurrentReaderReadsFilesWrittenWithAnAddedOptionalField() throws IOException {
        Schema newer = withOptionalCaption();
        File f = new File(dir, "newer.avro");
        GenericRecord rec = new GenericData.Record(newer);
        rec.put("id", "x");
        rec.put("label", 3);
        rec.put("pixels", tensor());
        rec.put("source", "s");
        rec.put("caption", "a shirt");
        try (DataFileWriter<GenericRecord> w = new DataFileWriter<>(new GenericDatumWriter<>(newer, SpecificData.get()))) {
            w.create(newer, f);
            w.append(rec);
        }
        try (DataFileReader<ImageRecord> r = new DataFileReader<>(f, new SpecificDatumReader<>(ImageRecord.class))) {
            ImageRecord back = r.next();
            assertEquals("x", back.getId());
            assertEquals(3, back.getLabel());
            assertEquals(List.of(1L, 2L, 2L), back.getPixels().getShape());
            assertEquals(4, back.getPixels().getData().remaining());
        }
    }
    /** The run-record schema before stages reported their peak memory. */
    private static Schema runRecordWithoutMemory() {
        Schema stageRun = StageRun.getClassSchema();
        List<Schema.Field> stageFields = new java.util.ArrayList<>();
        for (Schema.Field f : stageRun.getFields()) {
            if (!f.name().equals("memory")) stageFields.add(new Schema.Field(f, f.schema()));
        }
        Schema olderStage = Schema.createRecord(stageRun.getName(), null, stageRun.getNamespace(), false, stageFields);
        Schema run = RunRecord.getClassSchema();
        List<Schema.Field> runFields = new java.util.ArrayList<>();
        for (Schema.Field f : run.getFields()) {
            runFields.add(new Schema.Field(f, f.name().equals("stages") ? Schema.createArray(olderStage) : f.schema()));
        }
        return Schema.createRecord(run.getName(), null, run.getNamespace(), false, runFields);
    }

    @Test
    void runRecordsWrittenBeforePeakMemoryReadWithoutItAndOlderReadersSkipIt() throws IOException {
        Schema older = runRecordWithoutMemory();
        assertNull(older.getField("stages").schema().getElementType().getField("memory"));
        File f = new File(dir, "older-run.avro");
        GenericRecord stage = new GenericData.Record(older.getField("stages").schema().getElementType());
        stage.put("stage", "warmup-align");
        stage.put("key", "abc");
        stage.put("hit", false);
        stage.put("wallMillis", 10L);
        stage.put("counts", java.util.Map.of("steps", 8L));
        stage.put("deadLetters", 0L);
        stage.put("metrics", java.util.Map.of());
        GenericRecord run = new GenericData.Record(older);
        run.put("runId", "r");
        run.put("pipeline", "vae-align");
        run.put("startedAtMillis", 1L);
        run.put("stages", List.of(stage));
        try (DataFileWriter<GenericRecord> w = new DataFileWriter<>(new GenericDatumWriter<>(older))) {
            w.create(older, f);
            w.append(run);
        }
        try (DataFileReader<RunRecord> r = new DataFileReader<>(f, new SpecificDatumReader<>(RunRecord.class))) {
            StageRun back = r.next().getStages().get(0);
            assertEquals("warmup-align", back.getStage());
            assertNull(back.getMemory());
        }

        File g = new File(dir, "current-run.avro");
        RunRecord current = new RunRecord("r", "vae-align", 1L, List.of(new StageRun("warmup-align", "abc", false, 10L,
                java.util.Map.of(), 0L, java.util.Map.of(), new PeakMemory(1L, 2L, 3L))));
        try (DataFileWriter<RunRecord> w = new DataFileWriter<>(new SpecificDatumWriter<>(RunRecord.class))) {
            w.create(RunRecord.getClassSchema(), g);
            w.append(current);
        }
        try (DataFileReader<GenericRecord> r = new DataFileReader<>(g, new GenericDatumReader<>(null, older))) {
            GenericRecord back = (GenericRecord) ((List<?>) r.next().get("stages")).get(0);
            assertEquals(10L, back.get("wallMillis"));
            assertNull(back.getSchema().getField("memory"));
        }
    }
}
