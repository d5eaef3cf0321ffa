package org.transcend.runners.cli;

import org.transcend.pipelines.MemoryMeter;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/** Prints a run record as the table a user reads at the end of a run. */
final class Summary {
    private Summary() {}

    static void print(PrintStream out, RunRecord run, String store) {
        out.println();
        out.printf("run %s (%s), store %s%n", run.getRunId(), run.getPipeline(), store);
        out.printf("%-24s %-5s %9s  %9s  %-12s  %s%n", "stage", "cache", "time", "peak RSS", "key", "counts");
        for (StageRun s : run.getStages()) {
            String rss = s.getMemory() == null ? "-" : MemoryMeter.format(s.getMemory().getResidentBytes());
            out.printf("%-24s %-5s %8.1fs  %9s  %-12s  %s%n", s.getStage(), s.getHit() ? "hit" : "miss", s.getWallMillis() / 1000.0,
                    rss, s.getKey().substring(0, 12), s.getCounts());
        }
    }

    /** The final distances of several pipelines side by side (the evaluate stage's metrics). */
    static void compare(PrintStream out, List<RunRecord> runs) {
        boolean any = false;
        for (RunRecord run : runs) {
            for (StageRun s : run.getStages()) {
                if (!s.getStage().equals("evaluate")) continue;
                if (!any) {
                    out.println();
                    out.printf("%-24s %s%n", "pipeline", "distance");
                    any = true;
                }
                for (Map.Entry<String, Double> m : s.getMetrics().entrySet()) {
                    out.printf("%-24s %s = %.4f%n", run.getPipeline(), m.getKey(), m.getValue());
                }
            }
        }
    }
}
