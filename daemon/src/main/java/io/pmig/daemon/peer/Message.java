package io.pmig.daemon.peer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * One typed message between daemons: a request, its response, or the header of a data stream.
 * The type names the handler on the receiving side ("migrate.preflight", ...); the body is
 * whatever that handler reads, usually JSON ({@link #json}, {@link #bodyAs}).
 */
public record Message(String type, byte[] body) {
    static final ObjectMapper MAPPER = new ObjectMapper();
    /** Longest type name, so that the type fits its 1-byte length on the wire. */
    public static final int MAX_TYPE_LENGTH = 255;

    public Message {
        if (type.isEmpty() || type.getBytes(StandardCharsets.UTF_8).length > MAX_TYPE_LENGTH) {
            throw new IllegalArgumentException("a message type is 1 to " + MAX_TYPE_LENGTH + " bytes, not '" + type + "'");
        }
    }

    /** A message without a body. */
    public static Message of(String type) {
        return new Message(type, new byte[0]);
    }

    /** A message whose body is {@code value} as JSON (a record, a map, a JsonNode...). */
    public static Message json(String type, Object value) {
        try {
            return new Message(type, MAPPER.writeValueAsBytes(value));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write the body of " + type + " as JSON: " + e.getMessage(), e);
        }
    }

    /** The body read as JSON into {@code kind}; a body that is not fails naming the message type. */
    public <T> T bodyAs(Class<T> kind) {
        try {
            return MAPPER.readValue(body, kind);
        } catch (IOException e) {
            throw new PeerException(PeerException.Reason.PROTOCOL, "the body of a " + type + " message is not the JSON of a "
                    + kind.getSimpleName() + ": " + e.getMessage(), e);
        }
    }

    /** The body as a JSON tree. */
    public JsonNode bodyJson() {
        return bodyAs(JsonNode.class);
    }

    @Override
    public String toString() {
        return "Message[" + type + ", " + body.length + " bytes]";
    }
}
