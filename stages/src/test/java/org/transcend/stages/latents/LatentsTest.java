package org.transcend.stages.latents;

import org.apache.avro.file.DataFileWriter;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.transcend.model.train.LatentData;
import org.transcend.schemas.DType;
import org.transcend.schemas.LatentRecord;
import org.transcend.stages.io.Tensors;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Latents enter training through {@link Latents}: a NaN or an infinity is refused there, naming the record. */
class LatentsTest {

    @TempDir
    Path dir;

    private String artifact(List<LatentRecord> records) throws IOException {
        try (DataFileWriter<LatentRecord> w = new DataFileWriter<>(new SpecificDatumWriter<>(LatentRecord.class))) {
            w.create(LatentRecord.getClassSchema(), dir.resolve(Latents.RECORDS + "-00000-of-00001.avro").toFile());
            for (LatentRecord r : records) w.append(r);
        }
        return dir + "/";
    }

    private static LatentRecord record(String id, INDArray mean, INDArray std) {
        return new LatentRecord(id, 1, Tensors.encode(mean, DType.FLOAT32), Tensors.encode(std, DType.FLOAT32));
    }

    @Test
    void finiteLatentsLoadSortedById() throws IOException {
        INDArray m = Nd4j.rand(DataType.FLOAT, 4, 2, 2);
        String a = artifact(List.of(record("b", m, m), record("a", m.add(1), m)));
        LatentData d = Latents.posteriors(a);
        assertArrayEquals(new long[]{2, 4, 2, 2}, d.mean().shape());
        assertEquals(m.add(1), d.mean().slice(0));
    }

    @Test
    void aNonFiniteLatentIsRefusedNamingTheRecordAndTheElement() throws IOException {
        INDArray m = Nd4j.rand(DataType.FLOAT, 4, 2, 2);
        INDArray bad = m.dup();
        bad.putScalar(new long[]{1, 0, 1}, Float.POSITIVE_INFINITY);
        String a = artifact(List.of(record("fmnist-train-000001", m, m), record("fmnist-train-000002", m, bad)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Latents.posteriors(a));
        assertTrue(e.getMessage().contains("posterior std of latent record 'fmnist-train-000002'"), e.getMessage());
        assertTrue(e.getMessage().contains("Infinity at element 5 of [4, 2, 2]"), e.getMessage());
    }
}
