package io.pmig.checkpoint.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.task.ThreadImage;
import java.util.List;
import org.junit.jupiter.api.Test;

/** An OBJECT's payload written in one pass is the document image-format.md describes: "kind" first, then the record's fields. */
class ImageJsonTest {
    @Test
    void aPayloadIsItsKindThenTheRecordsFieldsAsTheirTreeHasThem() throws Exception {
        ThreadImage thread = new ThreadImage(42, "worker \"1\"", new long[] {1, -2, Long.MAX_VALUE}, new byte[] {0, 1, (byte) 0xff, 7},
            0x8000L, List.of(new byte[] {9, 8}, new byte[0]), 0x7f00L, 32, 0x53053053, 0, 2, 8192, 0x1234, 0x5678, 24);
        ObjectNode expected = ImageJson.MAPPER.createObjectNode();
        expected.put("kind", ImageJson.kindOf(ThreadImage.class));
        expected.setAll((ObjectNode) ImageJson.MAPPER.valueToTree(thread));
        for (int i = 0; i < 2; i++) {   // the first call of a class also looks at its fields; later ones only write
            assertArrayEquals(ImageJson.MAPPER.writeValueAsBytes(expected), ImageJson.objectPayload(thread));
        }
    }
}
