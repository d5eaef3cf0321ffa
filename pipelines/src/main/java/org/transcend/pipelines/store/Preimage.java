package org.transcend.pipelines.store;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The canonical preimage of a cache key: stage name and version, every output-affecting setting, upstream
 * artifact keys and the output schema fingerprint. Run names, timestamps and locations never enter it.
 */
public record Preimage(SortedMap<String, String> fields) {

    public Preimage {
        fields = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(fields));
    }

    public static Preimage of(Map<String, String> fields) {
        return new Preimage(new TreeMap<>(fields));
    }

    /** SHA-256 over length-prefixed key/value pairs in key order, so no two preimages share an encoding. */
    public String key() {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (Map.Entry<String, String> e : fields.entrySet()) {
                update(sha, e.getKey());
                update(sha, e.getValue());
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void update(MessageDigest sha, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        sha.update(java.nio.ByteBuffer.allocate(4).putInt(b.length).array());
        sha.update(b);
    }

    /** The fields whose values differ between the two preimages (present in one only counts too). */
    public List<String> differingFields(Preimage other) {
        TreeMap<String, String> all = new TreeMap<>(fields);
        other.fields.forEach(all::putIfAbsent);
        List<String> diff = new ArrayList<>();
        for (String k : all.keySet()) {
            if (!Objects.equals(fields.get(k), other.fields.get(k))) diff.add(k);
        }
        return diff;
    }
}
