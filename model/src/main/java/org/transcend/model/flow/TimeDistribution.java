package org.transcend.model.flow;

import org.transcend.model.rng.CounterRng;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** How training times t are drawn, as a function of a {@link CounterRng} stream so every worker draws the same t. */
public sealed interface TimeDistribution {

    /** The time drawn from the stream's first elements. */
    double time(CounterRng stream);

    /** The canonical text form, which {@link #parse(String)} reads back; it goes into cache keys. */
    String specification();

    /** {@code t ~ U(0, 1)}, SiT's default. */
    record Uniform() implements TimeDistribution {
        @Override
        public double time(CounterRng stream) {
            return stream.uniform(0);
        }

        @Override
        public String specification() {
            return "uniform";
        }
    }

    /** {@code t = sigmoid(mean + std·z)}, {@code z ~ N(0, 1)}. */
    record LogitNormal(double mean, double std) implements TimeDistribution {
        public LogitNormal {
            if (!(std > 0) || !Double.isFinite(mean) || !Double.isFinite(std)) {
                throw new IllegalArgumentException("logit-normal needs a finite mean and std > 0, got mean " + mean + ", std " + std);
            }
        }

        @Override
        public double time(CounterRng stream) {
            return 1 / (1 + StrictMath.exp(-(mean + std * stream.normal(0))));
        }

        @Override
        public String specification() {
            return "logit-normal(" + mean + "," + std + ")";
        }
    }

    Pattern LOGIT_NORMAL = Pattern.compile("logit-normal\\(\\s*([^,\\s]+)\\s*,\\s*([^)\\s]+)\\s*\\)");

    /** Reads {@code uniform} or {@code logit-normal(mean,std)}. */
    static TimeDistribution parse(String text) {
        String s = text.trim();
        if (s.equals("uniform")) {
            return new Uniform();
        }
        Matcher m = LOGIT_NORMAL.matcher(s);
        if (m.matches()) {
            try {
                return new LogitNormal(Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("time distribution '" + text + "' has a malformed number", e);
            }
        }
        throw new IllegalArgumentException("time distribution '" + text + "' not understood; accepted: uniform, logit-normal(mean,std)");
    }
}
