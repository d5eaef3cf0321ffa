package org.transcend.pipelines.cli;

import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.io.PrintStream;

/** Prints a run record as the table a user reads at the end of a run. */
final class Summary {
    private Summary() {}

    static void print(PrintStream out, RunRecord run, String store) {
        out.println();
        out.printf("run %s (%s), store %s%n", run.getRunId(), run.getPipeline(), store);
        out.printf("%-24s %-5s %9s  %-12s  %s%n", "stage", "cache", "time", "key", "counts");
        for (StageRun s : run.getStages()) {
            out.printf("%-24s %-5s %8.1fs  %-12s  %s%n", s.getStage(), s.getHit() ? "hit" : "miss", s.getWallMillis() / 1000.0,
                    s.getKey().substring(0, 12), s.getCounts());
        }
    }
}
