package org.transcend.model.train;

import org.nd4j.autodiff.samediff.SameDiff;

import java.io.OutputStream;
import java.io.PrintStream;

/**
 * Creates a SameDiff graph's gradient function up front and quietly: SameDiff 1.0.0-M2.1 prints one
 * "Added differentiated op" line per op to standard output while doing it, which would drown progress lines.
 */
public final class GradientFunction {
    private GradientFunction() {}

    public static synchronized void create(SameDiff sd) {
        PrintStream out = System.out;
        System.setOut(new PrintStream(OutputStream.nullOutputStream()));
        try {
            sd.createGradFunction();
        } finally {
            System.setOut(out);
        }
    }
}
