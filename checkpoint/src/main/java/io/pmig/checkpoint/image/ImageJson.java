package io.pmig.checkpoint.image;

import com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.annotation.PropertyAccessor;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.ConcurrentHashMap;

final class ImageJson {

    static final ObjectMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .build())
            // Unknown fields are refused (a stale or foreign writer); missing ones take Java defaults.
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            // Only the record components are the schema; helper methods named getX() must not leak into it.
            .visibility(PropertyAccessor.GETTER, Visibility.NONE)
            .visibility(PropertyAccessor.IS_GETTER, Visibility.NONE)
            .visibility(PropertyAccessor.FIELD, Visibility.ANY)
            .build();

    private static final ConcurrentHashMap<Class<?>, String> KINDS = new ConcurrentHashMap<>();
    /** Record classes whose serialized fields were looked at once for one named "kind". */
    private static final java.util.Set<Class<?>> CHECKED = ConcurrentHashMap.newKeySet();

    /** An OBJECT's payload: its kind first, then the record's fields, written in one pass. */
    private record Tagged(String kind, @JsonUnwrapped Object value) {
    }

    private ImageJson() {
    }

    static String kindOf(Class<?> type) {
        return KINDS.computeIfAbsent(type, t -> {
            ImageKind kind = t.getAnnotation(ImageKind.class);
            if (kind == null || kind.value().isEmpty()) {
                throw new IllegalArgumentException(t.getName() + " has no @ImageKind(\"...\") annotation");
            }
            return kind.value();
        });
    }

    static byte[] objectPayload(Object value) throws JsonProcessingException {
        Class<?> type = value.getClass();
        if (!type.isRecord()) {
            throw new IllegalArgumentException(type.getName() + " is not a Java record; only records are stored as OBJECT records");
        }
        String kind = kindOf(type);
        if (!CHECKED.contains(type)) {
            JsonNode fields = MAPPER.valueToTree(value);
            if (!(fields instanceof ObjectNode fieldObject)) {
                throw new IllegalArgumentException(type.getName() + " does not serialize to a JSON object");
            }
            if (fieldObject.has("kind")) {
                throw new IllegalArgumentException(type.getName() + " has a field named \"kind\", which the image format reserves");
            }
            CHECKED.add(type);
        }
        // straight to bytes, no tree between: the last part of a staged move is encoded while the process is frozen
        return MAPPER.writeValueAsBytes(new Tagged(kind, value));
    }

    static String describe(Throwable e) {
        String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
        if (m == null) {
            m = e.getClass().getSimpleName();
        }
        int nl = m.indexOf('\n');
        if (nl >= 0) {
            m = m.substring(0, nl);
        }
        return m.length() > 300 ? m.substring(0, 300) + "..." : m;
    }
}
