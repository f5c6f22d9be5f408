package io.pmig.daemon.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigInteger;
import org.junit.jupiter.api.Test;

class JsonLineTest {
    private static final String EVERY_KIND = "{\"op\":\"status\",\"pid\":4242,\"bytes\":12345678901234,\"huge\":123456789012345678901234567890,"
            + "\"ratio\":0.25,\"ok\":true,\"refused\":false,\"reason\":null,\"text\":\"quote \\\" and \\u00e9\","
            + "\"peers\":[{\"name\":\"node-b\",\"probeMillis\":3},[],{}],\"empty\":\"\"}";

    @Test
    void aLineReadsAsJacksonReadsItAndWritesBackTheSame() throws IOException {
        JsonNode read = JsonLine.read(EVERY_KIND);
        JsonNode jackson = new ObjectMapper().readTree(EVERY_KIND);
        assertEquals(jackson, read);
        assertEquals(new BigInteger("123456789012345678901234567890"), read.path("huge").bigIntegerValue());
        assertEquals(jackson, new ObjectMapper().readTree(JsonLine.write(read)));
        assertEquals(new ObjectMapper().writeValueAsString(jackson), JsonLine.write(read));
    }

    @Test
    void aLineThatIsNotOneJsonValueIsAnIoError() {
        assertThrows(IOException.class, () -> JsonLine.read(""));
        assertThrows(IOException.class, () -> JsonLine.read("{\"op\":"));
        assertThrows(IOException.class, () -> JsonLine.read("{\"op\":[1,2}"));
        assertThrows(IOException.class, () -> JsonLine.read("{} {}"));
    }
}
