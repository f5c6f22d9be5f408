package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A damaged, truncated, missing or foreign image is refused, its pid free when the refusal comes (before any process is
 * created, or for a damaged page past the image's first chunk, once the stopped process it was copied into is killed
 * unrun). Afterwards the intact image still restores and passes (the refusals left nothing behind).
 */
class BadImageTest extends ItSupport {
    @BeforeEach
    void root() {
        assumeRoot();
    }

    @ParameterizedTest(name = "{0}: damaged images are refused, the intact one restores")
    @MethodSource("io.pmig.checkpoint.it.ItSupport#statefulPrograms")
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void damagedImagesAreRefused(String name) throws Exception {
        TestProgram p = startReady(name);
        Path good = imageDir("good");
        checkpoint(p, good, false);
        long size = Files.size(good.resolve(IMAGE_FILE));

        expectRefused(p, damaged(good, "truncated-half", img -> truncate(img, size / 2)), "truncated to half");
        expectRefused(p, damaged(good, "truncated-last-byte", img -> truncate(img, size - 1)), "missing its last byte");
        expectRefused(p, damaged(good, "flipped-middle", img -> flip(img, size / 2)), "a flipped byte in the middle");
        expectRefused(p, damaged(good, "flipped-start", img -> flip(img, 8)), "a flipped byte in the header");
        expectRefused(p, damaged(good, "empty", img -> truncate(img, 0)), "an empty image");
        expectRefused(p, damaged(good, "missing", Files::delete), "no image file");
        expectRefused(p, damaged(good, "foreign", img -> {
            byte[] junk = new byte[64 * 1024];
            new Random(42).nextBytes(junk);
            Files.write(img, junk);
        }), "random bytes");

        restore(p, good);
        goExpectPassAndExit(p);
    }

    private interface Damage {
        void apply(Path image) throws IOException;
    }

    private Path damaged(Path good, String label, Damage damage) throws IOException {
        Path dir = tmp.resolve("image-" + label);
        copyDir(good, dir);
        damage.apply(dir.resolve(IMAGE_FILE));
        return dir;
    }

    private static void truncate(Path img, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    private static void flip(Path img, long at) throws IOException {
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, at);
            b.flip();
            byte v = b.get(0);
            ch.write(ByteBuffer.wrap(new byte[] {(byte) (v ^ 0xFF)}), at);
        }
    }

    private static void expectRefused(TestProgram p, Path dir, String what) {
        RefusedException e = assertThrows(RefusedException.class,
                () -> new RestoreEngine().restore(dir, new RestoreOptions(false)),
                "restore from an image with " + what);
        assertNotNull(e.getMessage(), "refusal without a message");
        assertFalse(TestProgram.pidExists(p.pid()),
                "a process with pid " + p.pid() + " exists after refusing an image with " + what);
    }
}
