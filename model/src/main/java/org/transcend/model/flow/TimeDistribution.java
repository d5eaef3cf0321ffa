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

    /** {@code base}'s time moved by RAE's {@link TimeShift}. */
    record Shifted(TimeDistribution base, TimeShift shift) implements TimeDistribution {
        public Shifted {
            if (base == null || shift == null) {
                throw new IllegalArgumentException("a shifted time distribution needs a base distribution and a shift");
            }
        }

        @Override
        public double time(CounterRng stream) {
            return shift.apply(base.time(stream));
        }

        @Override
        public String specification() {
            return base.specification() + "+shift(" + shift.alpha() + ")";
        }
    }

    /** {@code base} moved by {@code shift}; {@code base} itself when the shift is the identity, so its specification stays the same. */
    static TimeDistribution shifted(TimeDistribution base, TimeShift shift) {
        return shift.isIdentity() ? base : new Shifted(base, shift);
    }

    Pattern LOGIT_NORMAL = Pattern.compile("logit-normal\\(\\s*([^,\\s]+)\\s*,\\s*([^)\\s]+)\\s*\\)");
    Pattern SHIFT = Pattern.compile("(.*)\\+shift\\(\\s*([^)\\s]+)\\s*\\)");

    /** Reads {@code uniform} or {@code logit-normal(mean,std)}, either optionally followed by {@code +shift(alpha)}. */
    static TimeDistribution parse(String text) {
        String s = text.trim();
        Matcher shifted = SHIFT.matcher(s);
        if (shifted.matches()) {
            try {
                return new Shifted(parse(shifted.group(1)), new TimeShift(Double.parseDouble(shifted.group(2))));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("time distribution '" + text + "' has a malformed shift", e);
            }
        }
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
        throw new IllegalArgumentException("time distribution '" + text + "' not understood; accepted: uniform, logit-normal(mean,std), "
                + "either followed by +shift(alpha)");
    }
}
