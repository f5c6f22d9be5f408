package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.image.PageCompressingChannel;
import io.pmig.checkpoint.image.PageCompression;
import io.pmig.checkpoint.imagedir.ImageDirectory;
import io.pmig.checkpoint.imagedir.ImageMac;
import io.pmig.checkpoint.imagedir.NodeKey;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An image whose pages went compressed (format version 2) restores from a file as from a stream: the
 * file reader decompresses every run while it checks the image, and the copy finds every page it wrote.
 * (The stream reader's case: StreamCheckpointRestoreTest and PrecopyTest.)
 */
class CompressedImageTest extends ItSupport {
    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    @Timeout(90)
    void aCompressedImageFileRestoresEveryPage() throws Exception {
        TestProgram p = startReady("dirty_writer");     // one byte written per page: it compresses
        PageCompression compression = new PageCompression(PageCompression.Mode.ON, 0);
        ByteArrayOutputStream image = new ByteArrayOutputStream();
        try (FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(p.pid(),
                PageCompressingChannel.over(Channels.newChannel(image), compression), CheckpointOptions.defaults())) {
            frozen.commit();
        }
        p.awaitPidFree(PID_FREE_TIMEOUT);
        assertTrue(compression.ran() && compression.ratio() > 4, "the pages went compressed: " + compression);
        assertEquals(2, image.toByteArray()[8], "an image of format version 2");

        Path dir = tmp.resolve("compressed");
        ImageDirectory.prepare(dir);
        Path file = dir.resolve(CheckpointEngine.IMAGE_FILE);
        Files.write(file, image.toByteArray());
        String authentication = ImageMac.sign(file, NodeKey.loadOrCreate());
        try (FileChannel out = FileChannel.open(dir.resolve(CheckpointEngine.IMAGE_FILE + ImageMac.SUFFIX),
                StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ImageMac.write(out, authentication);
        }
        restore(p, dir);
        assertPass(p, p.goAndAwaitResult());
    }
}
