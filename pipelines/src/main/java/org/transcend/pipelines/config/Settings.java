package org.transcend.pipelines.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A resolved configuration: every key of the {@link Catalog} with its value from, in order of precedence,
 * {@code --set key=value}, the preset file, and the catalog default. Unknown keys are rejected with the list
 * of valid ones.
 */
public final class Settings {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private final SortedMap<String, String> values;
    private final String presetName;

    private Settings(SortedMap<String, String> values, String presetName) {
        this.values = Collections.unmodifiableSortedMap(values);
        this.presetName = presetName;
    }

    /** Resolves a preset (a bundled name such as {@code fmnist-quick}, or a YAML file path) plus overrides. */
    public static Settings resolve(String preset, List<String> overrides) {
        Map<String, String> given = new LinkedHashMap<>();
        if (preset != null && !preset.isBlank()) {
            Map<String, String> fromPreset = loadPreset(preset);
            fromPreset.keySet().forEach(k -> requireKnown(k, " in preset " + preset));
            given.putAll(fromPreset);
        }
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq <= 0) throw new ConfigException("--set expects key=value, got '" + o + "'");
            given.put(o.substring(0, eq).trim(), o.substring(eq + 1).trim());
        }
        return of(given, preset == null ? "" : preset);
    }

    public static Settings of(Map<String, String> given, String presetName) {
        SortedMap<String, String> values = new TreeMap<>();
        for (Setting s : Catalog.ALL.values()) values.put(s.key(), s.canonical(s.defaultValue()));
        for (Map.Entry<String, String> e : given.entrySet()) {
            Setting s = requireKnown(e.getKey(), "");
            values.put(s.key(), s.canonical(e.getValue()));
        }
        Settings settings = new Settings(values, presetName);
        Catalog.checkConsistency(settings);
        return settings;
    }

    private static Setting requireKnown(String key, String where) {
        Setting s = Catalog.ALL.get(key);
        if (s == null) {
            throw new ConfigException("unknown setting '" + key + "'" + where + "; valid keys: " + String.join(", ", Catalog.ALL.keySet()));
        }
        return s;
    }

    public Settings with(String key, String value) {
        Map<String, String> m = new LinkedHashMap<>(values);
        m.put(key, value);
        return of(m, presetName);
    }

    /** The key of a preset that builds on another: {@code base: fmnist-quick} takes that preset's values first. */
    static final String BASE = "base";

    static Map<String, String> loadPreset(String preset) {
        return loadPreset(preset, new java.util.ArrayList<>());
    }

    private static Map<String, String> loadPreset(String preset, List<String> chain) {
        if (chain.contains(preset)) {
            throw new ConfigException("preset " + preset + " builds on itself through " + String.join(" -> ", chain) + "; accepted: a chain of bases without a loop");
        }
        chain.add(preset);
        JsonNode root;
        try (InputStream in = openPreset(preset)) {
            root = YAML.readTree(in);
        } catch (IOException e) {
            throw new ConfigException("cannot read preset " + preset + ": " + e.getMessage());
        }
        Map<String, String> flat = new LinkedHashMap<>();
        if (root != null) flatten("", root, flat);
        String base = flat.remove(BASE);
        if (base == null) return flat;
        Map<String, String> merged = new LinkedHashMap<>(loadPreset(base, chain));
        merged.putAll(flat);
        return merged;
    }

    private static InputStream openPreset(String preset) throws IOException {
        Path file = Path.of(preset);
        if (preset.endsWith(".yaml") || preset.endsWith(".yml") || Files.isRegularFile(file)) {
            if (!Files.isRegularFile(file)) throw new ConfigException("preset file " + preset + " does not exist");
            return Files.newInputStream(file);
        }
        InputStream in = Settings.class.getResourceAsStream("/presets/" + preset + ".yaml");
        if (in == null) {
            throw new ConfigException("unknown preset '" + preset + "'; bundled presets: " + String.join(", ", Catalog.PRESETS)
                    + " (or give a path to a .yaml file)");
        }
        return in;
    }

    private static void flatten(String prefix, JsonNode node, Map<String, String> out) {
        if (node.isObject()) {
            node.fields().forEachRemaining(e -> flatten(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue(), out));
        } else if (node.isArray()) {
            StringBuilder sb = new StringBuilder();
            node.forEach(n -> sb.append(sb.length() == 0 ? "" : ",").append(n.asText()));
            out.put(prefix, sb.toString());
        } else {
            out.put(prefix, node.asText());
        }
    }

    public String get(String key) {
        String v = values.get(key);
        if (v == null) throw new IllegalArgumentException("no setting " + key + " in the catalog");
        return v;
    }

    public long getLong(String key) {
        return Long.parseLong(get(key));
    }

    public int getInt(String key) {
        return Math.toIntExact(getLong(key));
    }

    public double getDouble(String key) {
        return Double.parseDouble(get(key));
    }

    public boolean getBoolean(String key) {
        return Boolean.parseBoolean(get(key));
    }

    /** The values of the given keys, for a cache-key preimage. */
    public SortedMap<String, String> subset(List<String> keys) {
        SortedMap<String, String> m = new TreeMap<>();
        for (String k : keys) m.put(k, get(k));
        return m;
    }

    /**
     * The keys among {@code keys} whose value differs from the catalog default. A setting added with a default that
     * changes nothing enters cache keys through this only when set, so artifacts built before it existed still match.
     */
    public List<String> changedFromDefault(List<String> keys) {
        return keys.stream().filter(k -> !get(k).equals(Catalog.ALL.get(k).canonical(Catalog.ALL.get(k).defaultValue()))).toList();
    }

    public SortedMap<String, String> values() {
        return values;
    }

    public String presetName() {
        return presetName;
    }
}
