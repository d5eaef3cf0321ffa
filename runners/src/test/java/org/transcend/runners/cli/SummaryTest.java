package org.transcend.runners.cli;

import org.junit.jupiter.api.Test;
import org.transcend.schemas.PeakMemory;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class SummaryTest {

    @Test
    void theSummaryShowsEachBuiltStagesPeakResidentMemory() {
        StageRun built = new StageRun("warmup-align", "0123456789abcdef", false, 1500L, Map.of("steps", 8L), 0L, Map.of(),
                new PeakMemory(200L << 20, 50L << 20, 1536L << 20));
        StageRun hit = new StageRun("import-images", "fedcba9876543210", true, 3L, Map.of(), 0L, Map.of(), null);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Summary.print(new PrintStream(bytes, true, StandardCharsets.UTF_8), new RunRecord("r", "vae-align", 0L, List.of(hit, built)), "store");
        String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertTrue(lines[2].contains("peak RSS"), lines[2]);
        assertTrue(lines[3].startsWith("import-images") && lines[3].contains(" - "), lines[3]);
        assertTrue(lines[4].startsWith("warmup-align") && lines[4].contains("1.5 GB"), lines[4]);
    }
}
