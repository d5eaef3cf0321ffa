package org.transcend.pipelines.config;

import java.util.List;

/**
 * One documented configuration key: its default, what it means, and which values it accepts.
 *
 * @param choices the accepted words for an enumerated setting; empty for numbers and free text
 * @param min     the smallest accepted number (numeric settings)
 * @param max     the largest accepted number (numeric settings)
 */
public record Setting(String key, Type type, String defaultValue, String doc, List<String> choices, double min, double max) {

    public enum Type { INT, LONG, DOUBLE, BOOLEAN, CHOICE, TEXT }

    public static Setting integer(String key, long def, long min, long max, String doc) {
        return new Setting(key, Type.LONG, Long.toString(def), doc, List.of(), min, max);
    }

    public static Setting real(String key, double def, double min, double max, String doc) {
        return new Setting(key, Type.DOUBLE, Double.toString(def), doc, List.of(), min, max);
    }

    public static Setting flag(String key, boolean def, String doc) {
        return new Setting(key, Type.BOOLEAN, Boolean.toString(def), doc, List.of("true", "false"), 0, 0);
    }

    public static Setting choice(String key, String def, List<String> choices, String doc) {
        return new Setting(key, Type.CHOICE, def, doc, choices, 0, 0);
    }

    public static Setting text(String key, String def, String doc) {
        return new Setting(key, Type.TEXT, def, doc, List.of(), 0, 0);
    }

    /** The value in canonical form (so 1e-4 and 0.0001 hash alike), or an error naming the key and the accepted range. */
    public String canonical(String value) {
        String v = value.trim();
        try {
            switch (type) {
                case INT, LONG -> {
                    long n = v.contains("e") || v.contains("E") || v.contains(".") ? exactLong(Double.parseDouble(v)) : Long.parseLong(v.replace("_", ""));
                    if (n < min || n > max) throw outOfRange(v);
                    return Long.toString(n);
                }
                case DOUBLE -> {
                    double d = Double.parseDouble(v);
                    if (!(d >= min && d <= max)) throw outOfRange(v);
                    return Double.toString(d);
                }
                case BOOLEAN, CHOICE -> {
                    if (!choices.contains(v)) {
                        throw new ConfigException(key + " is '" + v + "'; accepted: " + String.join(", ", choices));
                    }
                    return v;
                }
                default -> {
                    return v;
                }
            }
        } catch (NumberFormatException e) {
            throw new ConfigException(key + " is '" + v + "', not a " + (type == Type.DOUBLE ? "number" : "whole number")
                    + "; accepted: " + range());
        }
    }

    private static long exactLong(double d) {
        if (d != Math.rint(d)) throw new NumberFormatException();
        return (long) d;
    }

    private ConfigException outOfRange(String v) {
        return new ConfigException(key + " is " + v + "; accepted: " + range());
    }

    public String range() {
        return switch (type) {
            case INT, LONG -> fmt(min) + " to " + fmt(max);
            case DOUBLE -> fmt(min) + " to " + fmt(max);
            case BOOLEAN, CHOICE -> String.join(", ", choices);
            case TEXT -> "any text";
        };
    }

    private static String fmt(double d) {
        if (d == Long.MAX_VALUE || d == Double.MAX_VALUE) return "any";
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }
}
