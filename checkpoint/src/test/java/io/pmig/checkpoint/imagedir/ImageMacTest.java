package io.pmig.checkpoint.imagedir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.RefusedException;

import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Random;
import javax.crypto.Mac;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The authentication of image files (aes-gcm-chunks): what a checkpoint writes as it goes verifies, each chunk
 * alone too; a byte changed in any chunk, a file cut short, a tag of the line changed or another key are refused.
 */
@ExtendWith(TemporaryNodeKey.class)
class ImageMacTest {
    /** Three chunks, the last a partial one not a multiple of the AES block. */
    private static final int SIZE = 2 * ImageMac.CHUNK_BYTES + 12_345;

    @TempDir
    Path tmp;
    private Path image;
    private byte[] bytes;

    @BeforeEach
    void anImage() throws Exception {
        bytes = new byte[SIZE];
        new Random(18).nextBytes(bytes);
        image = tmp.resolve("image.pmig");
        Files.write(image, bytes);
    }

    @Test
    void aSignedImageHasATagPerChunkAndVerifies() throws Exception {
        NodeKey key = NodeKey.loadOrCreate();
        String line = ImageMac.sign(image, key);
        assertEquals(3 + 3, line.trim().split(" ").length, "the format, the nonce, the HMAC and a tag per chunk: " + line);
        writeMac(image, line);
        ImageMac.verify(image, key);
    }

    @Test
    void aByteChangedInAnyChunkIsRefusedAndOnlyThatChunkFails() throws Exception {
        NodeKey key = NodeKey.loadOrCreate();
        writeMac(image, ImageMac.sign(image, key));
        ImageMac.verify(image, key);
        for (long at : new long[] {0, ImageMac.CHUNK_BYTES + 7, SIZE - 1}) {
            byte[] changed = bytes.clone();
            changed[(int) at] ^= 1;
            Files.write(image, changed);
            assertRefused(() -> ImageMac.verify(image, key), "does not authenticate");
            ImageMac.Authentication authentication = ImageMac.authentication(image, key);
            try (FileChannel in = FileChannel.open(image)) {
                long chunk = at / ImageMac.CHUNK_BYTES * ImageMac.CHUNK_BYTES;
                assertRefused(() -> authentication.verify(in, chunk, chunk + 1, 1), "does not authenticate");
                long other = (chunk + ImageMac.CHUNK_BYTES) % (3L * ImageMac.CHUNK_BYTES);
                authentication.verify(in, other, other + 1, 2);
            }
        }
    }

    @Test
    void aFileCutShortOrALineChangedOrAnotherKeyIsRefused() throws Exception {
        NodeKey key = NodeKey.loadOrCreate();
        String line = ImageMac.sign(image, key);
        writeMac(image, line);
        Files.write(image, java.util.Arrays.copyOf(bytes, 2 * ImageMac.CHUNK_BYTES));
        assertRefused(() -> ImageMac.authentication(image, key), "does not authenticate");

        Files.write(image, bytes);
        String[] fields = line.trim().split(" ");
        fields[4] = fields[3];
        writeMac(image, String.join(" ", fields) + "\n");
        assertRefused(() -> ImageMac.authentication(image, key), "does not authenticate");

        writeMac(image, line.replace("aes-gcm-chunks", "aes-gcm-chunk"));
        assertRefused(() -> ImageMac.authentication(image, key), "is not an image authentication");

        writeMac(image, line);
        Files.delete(NodeKey.configuredPath());
        NodeKey other = NodeKey.loadOrCreate();
        assertRefused(() -> ImageMac.verify(image, other), "does not authenticate");
    }

    @Test
    void aFileOfTheFirstFormatStillVerifies() throws Exception {
        NodeKey key = NodeKey.loadOrCreate();
        Mac mac = key.newMac();
        mac.update(bytes);
        writeMac(image, "hmac-sha256 " + HexFormat.of().formatHex(mac.doFinal()) + "\n");
        ImageMac.verify(image, key);
        bytes[5] ^= 1;
        Files.write(image, bytes);
        assertRefused(() -> ImageMac.verify(image, key), "does not authenticate");
    }

    private static void writeMac(Path image, String line) throws Exception {
        Files.writeString(image.resolveSibling(image.getFileName() + ImageMac.SUFFIX), line, StandardCharsets.US_ASCII);
    }

    private static void assertRefused(Executable e, String naming) {
        RefusedException refused = assertThrows(RefusedException.class, e);
        assertTrue(refused.getMessage().contains(naming), "the refusal names '" + naming + "': " + refused.getMessage());
    }
}
