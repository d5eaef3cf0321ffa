package org.transcend.pipelines.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.Map;

/**
 * Completes an Avro JSON text written under an older schema with the defaults of the fields added since. Avro's
 * binary reader resolves a missing field from the writer's schema, but its JSON decoder has no writer schema and
 * refuses the text, so manifests and run records in an existing store would become unreadable when a field is added.
 */
final class JsonDefaults {
    private static final ObjectMapper JSON = new ObjectMapper();

    private JsonDefaults() {}

    static String complete(String json, Schema schema) throws IOException {
        return JSON.writeValueAsString(fill(JSON.readTree(json), schema));
    }

    private static JsonNode fill(JsonNode node, Schema s) throws IOException {
        switch (s.getType()) {
            case RECORD -> {
                if (!node.isObject()) return node;
                ObjectNode o = (ObjectNode) node;
                for (Schema.Field f : s.getFields()) {
                    JsonNode v = o.get(f.name());
                    if (v == null && f.hasDefaultValue()) o.set(f.name(), encodedDefault(f));
                    else if (v != null) o.set(f.name(), fill(v, f.schema()));
                }
                return o;
            }
            case ARRAY -> {
                if (node.isArray()) {
                    ArrayNode a = (ArrayNode) node;
                    for (int i = 0; i < a.size(); i++) a.set(i, fill(a.get(i), s.getElementType()));
                }
                return node;
            }
            case MAP -> {
                if (node.isObject()) {
                    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                        Map.Entry<String, JsonNode> e = it.next();
                        e.setValue(fill(e.getValue(), s.getValueType()));
                    }
                }
                return node;
            }
            case UNION -> {
                // A non-null union value is {"<branch full name>": value}.
                if (node.isObject() && node.size() == 1) {
                    Map.Entry<String, JsonNode> e = node.fields().next();
                    for (Schema branch : s.getTypes()) {
                        if (branch.getFullName().equals(e.getKey())) e.setValue(fill(e.getValue(), branch));
                    }
                }
                return node;
            }
            default -> {
                return node;
            }
        }
    }

    /** The field's default as Avro's JSON encoder writes a value of the field's schema. */
    private static JsonNode encodedDefault(Schema.Field f) throws IOException {
        Object value = GenericData.get().getDefaultValue(f);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        JsonEncoder enc = EncoderFactory.get().jsonEncoder(f.schema(), out);
        new GenericDatumWriter<>(f.schema()).write(value, enc);
        enc.flush();
        return JSON.readTree(out.toByteArray());
    }
}
