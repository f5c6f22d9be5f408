package io.pmig.checkpoint.image;

import static io.pmig.checkpoint.image.TestImages.*;
import static org.junit.jupiter.api.Assertions.*;

import com.github.luben.zstd.Zstd;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

// Readers face bytes from disks and peers: whatever arrives, they may only answer with ImageException,
// must terminate, and must not allocate for lengths the input does not back.
// Reproduce a failure with -Dpmig.fuzz.seed=<seed printed in the failure>.
class ImageFuzzTest {
    private static final long SEED = Long.getLong("pmig.fuzz.seed", 0x5EED_1A6EL);
    private static final int CASES = Integer.getInteger("pmig.fuzz.cases", 2000);

    @TempDir(factory = MemoryTempDirFactory.class)
    Path dir;

    private static byte[] valid;
    private static byte[] other;
    private int files;

    @BeforeAll
    static void images() throws IOException {
        valid = sample();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (ImageWriter w = ImageWriter.to(Channels.newChannel(out), HEADER)) {
            w.writePages(0x600000L, ByteBuffer.wrap(pageBytes(9, 2)));
            w.writeObject(new ProcessInfo(7, "sshd", List.of("sshd", "-D"), Map.of()));
            w.writeObject(new Mapping(0x600000L, 0x602000L, null, 3));
        }
        other = out.toByteArray();
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void randomInputsAreOnlyRefusedWithImageException() throws IOException {
        Random seeds = new Random(SEED);
        for (int i = 0; i < CASES; i++) {
            long caseSeed = seeds.nextLong();
            int style = i % 4;
            byte[] input = randomInput(new Random(caseSeed), style);
            int refused = feed(input, "random input #" + i, caseSeed);
            // Forged records carry valid checksums and may happen to form a valid image; plain noise never does.
            assertTrue(refused == 1 || style == 3, "random input #" + i + " was accepted (case seed " + caseSeed + ")");
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void mutatedImagesAreOnlyRefusedWithImageException() throws IOException {
        Random seeds = new Random(SEED ^ 0x9E3779B97F4A7C15L);
        int refused = 0;
        for (int i = 0; i < CASES; i++) {
            long caseSeed = seeds.nextLong();
            Random r = new Random(caseSeed);
            byte[] input = valid;
            int rounds = 1 + (r.nextInt(4) == 0 ? r.nextInt(3) : 0);
            for (int k = 0; k < rounds; k++) {
                input = mutate(input, r);
            }
            refused += feed(input, "mutation #" + i, caseSeed);
        }
        assertTrue(refused > CASES / 2, "only " + refused + " of " + CASES + " mutations were refused");
    }

    // Returns 1 if the input was refused, 0 if it was accepted as a valid image.
    private int feed(byte[] input, String what, long caseSeed) throws IOException {
        String context = what + " (seed " + SEED + ", case seed " + caseSeed + ", " + input.length + " bytes)";
        Path file = dir.resolve("fuzz-" + files++ + ".img");
        Files.write(file, input);
        boolean fileRefused;
        long before = allocatedBytes();
        try (Image image = Image.open(file)) {
            fileRefused = false;
            for (PageRun run : image.pageRuns()) {
                assertEquals(run.byteLength(image.header().pageSize()), image.pageData(run).remaining(), context);
            }
        } catch (ImageException e) {
            fileRefused = true;
            assertTrue(e.getMessage().startsWith(file.toString()), context + ": " + e.getMessage());
        } catch (Throwable t) {
            throw new AssertionError("file reader threw " + t + " for " + context, t);
        } finally {
            Files.delete(file);
        }
        checkAllocation(before, input.length, "file reader", context);

        boolean streamRefused;
        ImageStreamReader reader = null;
        before = allocatedBytes();
        try {
            reader = ImageStreamReader.open(Channels.newChannel(new ByteArrayInputStream(input)), "fuzz");
            while (reader.next() != null) {
                // consume
            }
            streamRefused = false;
        } catch (ImageException e) {
            streamRefused = true;
        } catch (Throwable t) {
            throw new AssertionError("stream reader threw " + t + " for " + context, t);
        }
        checkAllocation(before, input.length, "stream reader", context);
        if (reader != null) {
            assertTrue(reader.bufferCapacity() <= Math.max(64 * 1024, 2 * input.length),
                    "stream reader buffer of " + reader.bufferCapacity() + " bytes for " + context);
        }
        // The stream reader stops at END, so only trailing bytes may separate the two verdicts.
        if (!fileRefused) {
            assertFalse(streamRefused, "stream reader refused what the file reader accepted: " + context);
        }
        return fileRefused ? 1 : 0;
    }

    private static final com.sun.management.ThreadMXBean THREADS =
            ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
                    && t.isThreadAllocatedMemorySupported() ? t : null;

    private static long allocatedBytes() {
        return THREADS == null ? 0 : THREADS.getCurrentThreadAllocatedBytes();
    }

    // Generous for JSON trees and JUnit's own bookkeeping, far below the 64 MiB a trusted length field could ask for.
    private static void checkAllocation(long before, int inputLength, String reader, String context) {
        if (THREADS == null) {
            return;
        }
        long allocated = allocatedBytes() - before;
        assertTrue(allocated < 4L * 1024 * 1024 + 32L * inputLength,
                reader + " allocated " + allocated + " bytes for " + context);
    }

    private static byte[] randomInput(Random r, int style) {
        return switch (style) {
            case 0 -> randomBytes(r, r.nextInt(600));
            case 1 -> concat("PMIGIMG\0".getBytes(StandardCharsets.US_ASCII), randomBytes(r, r.nextInt(200)));
            case 2 -> concat(preamble(1, 0), randomBytes(r, r.nextInt(400)));
            default -> forgedRecords(r);
        };
    }

    // Frames with correct checksums but arbitrary content, to get past the CRC into the deeper checks.
    private static byte[] forgedRecords(Random r) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        boolean compressing = r.nextBoolean();    // version 2: PAGES records may be compressed
        out.writeBytes(preamble(compressing ? 2 : 1, 0));
        if (r.nextInt(8) != 0) {
            out.writeBytes(frame(1, 0, 0, r.nextInt(4) == 0 ? randomJson(r) : headerJson(HEADER.withFormatVersion(compressing ? 2 : 1))));
        }
        int n = r.nextInt(6);
        long objects = 0;
        long pagesRecords = 0;
        long pageBytes = 0;
        for (int i = 0; i < n; i++) {
            int type = r.nextInt(10) == 0 ? r.nextInt(256) : 1 + r.nextInt(4);
            int flags = r.nextInt(6) == 0 ? 1 << r.nextInt(8) : 0;
            int reserved = r.nextInt(20) == 0 ? r.nextInt(65536) : 0;
            byte[] payload;
            if (type == 3 && compressing && r.nextBoolean()) {
                int count = 1 + r.nextInt(3);
                flags = 1;
                payload = pagesPayload((long) r.nextInt(64) * PAGE, r.nextInt(10) == 0 ? r.nextInt() : count,
                        r.nextInt(10) == 0 ? r.nextInt() : 1, compressedGarbage(r, count));
                pagesRecords++;
                pageBytes += (long) count * PAGE;
            } else if (type == 3 && r.nextBoolean()) {
                int count = r.nextInt(3);
                long address = r.nextBoolean() ? (long) r.nextInt(64) * PAGE : r.nextLong();
                payload = pagesPayload(address, r.nextInt(10) == 0 ? r.nextInt() : count, 0,
                        randomBytes(r, r.nextInt(5) == 0 ? r.nextInt(PAGE) : count * PAGE));
                pagesRecords++;
                pageBytes += (long) count * PAGE;
            } else if (type == 4 && r.nextBoolean()) {
                payload = endJson(objects, pagesRecords, pageBytes);
            } else {
                payload = randomJson(r);
                if (type == 2) {
                    objects++;
                }
            }
            out.writeBytes(frame(type, flags, reserved, payload));
        }
        if (r.nextBoolean()) {
            out.writeBytes(frame(4, 0, 0, endJson(objects, pagesRecords, pageBytes)));
        }
        return out.toByteArray();
    }

    /** A zstd frame of {@code pages} pages, often damaged (bytes changed, cut or added) behind a valid CRC. */
    private static byte[] compressedGarbage(Random r, int pages) {
        byte[] raw = r.nextBoolean() ? new byte[pages * PAGE] : randomBytes(r, pages * PAGE);
        byte[] packed = Zstd.compress(raw, 1);
        switch (r.nextInt(4)) {
            case 0 -> packed[r.nextInt(packed.length)] ^= (byte) (1 + r.nextInt(255));
            case 1 -> packed = java.util.Arrays.copyOf(packed, r.nextInt(packed.length));
            case 2 -> packed = java.util.Arrays.copyOf(packed, packed.length + 1 + r.nextInt(64));
            default -> {
                // intact: it decompresses to its pages, or to other than the record declares
            }
        }
        return packed;
    }

    private static final String[] JSON_PARTS = {
        "{", "}", "[", "]", ",", ":", "\"kind\"", "\"test.mapping\"", "\"x\"", "1", "-1", "1e400", "1.5",
        "99999999999999999999999", "null", "true", "\"arch\"", "\"pageSize\"", "4096", "\"formatVersion\"", "\\u0000",
        "\"objectRecords\"", "\"pagesRecords\"", "\"pageBytes\"", "0", "\"\\ud800\"", " ", "\"",
    };

    private static byte[] randomJson(Random r) {
        if (r.nextInt(5) == 0) {
            return randomBytes(r, r.nextInt(64));
        }
        if (r.nextInt(6) == 0) {
            return ("[".repeat(2000 + r.nextInt(2000))).getBytes(StandardCharsets.US_ASCII);
        }
        StringBuilder s = new StringBuilder(r.nextBoolean() ? "{\"kind\":\"test.mapping\"" : "{");
        int n = r.nextInt(12);
        for (int i = 0; i < n; i++) {
            s.append(JSON_PARTS[r.nextInt(JSON_PARTS.length)]);
        }
        if (r.nextBoolean()) {
            s.append('}');
        }
        return s.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] mutate(byte[] in, Random r) {
        if (in.length == 0) {
            return randomBytes(r, 1 + r.nextInt(16));
        }
        byte[] out;
        switch (r.nextInt(8)) {
            case 0 -> {
                out = in.clone();
                int flips = 1 + r.nextInt(8);
                for (int i = 0; i < flips; i++) {
                    out[r.nextInt(out.length)] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> {
                int at = r.nextInt(in.length + 1);
                out = concat(slice(in, 0, at), randomBytes(r, 1 + r.nextInt(16)), slice(in, at, in.length));
            }
            case 2 -> {
                int at = r.nextInt(in.length);
                int len = 1 + r.nextInt(Math.min(64, in.length - at));
                out = concat(slice(in, 0, at), slice(in, at + len, in.length));
            }
            case 3 -> out = slice(in, 0, r.nextInt(in.length));
            case 4 -> {
                // splice a piece of another valid image in place of a piece of this one
                int a = r.nextInt(in.length);
                int b = a + r.nextInt(in.length - a + 1);
                int c = r.nextInt(other.length);
                int d = c + r.nextInt(other.length - c + 1);
                out = concat(slice(in, 0, a), slice(other, c, d), slice(in, b, in.length));
            }
            case 5 -> {
                // duplicate or move whole records: checksums stay valid, so order and count checks must catch it
                List<Integer> bounds = validBounds(in);
                if (bounds == null || bounds.size() < 3) {
                    return mutate(in, new Random(r.nextLong()));
                }
                int i = r.nextInt(bounds.size() - 1);
                int j = r.nextInt(bounds.size());
                byte[] record = slice(in, bounds.get(i), bounds.get(i + 1));
                byte[] without = r.nextBoolean() ? concat(slice(in, 0, bounds.get(i)), slice(in, bounds.get(i + 1), in.length)) : in;
                int at = Math.min(bounds.get(j), without.length);
                out = concat(slice(without, 0, at), record, slice(without, at, without.length));
            }
            case 6 -> {
                out = in.clone();
                int at = r.nextInt(out.length);
                int len = 1 + r.nextInt(Math.min(32, out.length - at));
                byte[] noise = randomBytes(r, len);
                System.arraycopy(noise, 0, out, at, len);
            }
            default -> {
                // rewrite a length field to something plausible or absurd
                List<Integer> bounds = validBounds(in);
                out = in.clone();
                if (bounds == null || bounds.size() < 2) {
                    out[r.nextInt(out.length)] = (byte) r.nextInt(256);
                } else {
                    int start = bounds.get(r.nextInt(bounds.size() - 1));
                    int value = switch (r.nextInt(4)) {
                        case 0 -> r.nextInt();
                        case 1 -> ImageFormat.MAX_PAYLOAD;
                        case 2 -> payloadLength(in, start) + r.nextInt(9) - 4;
                        default -> r.nextInt(out.length + 64);
                    };
                    ByteBuffer.wrap(out).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(start + 4, value);
                }
            }
        }
        return out;
    }

    private static List<Integer> validBounds(byte[] in) {
        try {
            List<Integer> bounds = recordBoundaries(in);
            return bounds.get(bounds.size() - 1) == in.length ? bounds : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static byte[] slice(byte[] b, int from, int to) {
        return java.util.Arrays.copyOfRange(b, from, to);
    }

    private static byte[] randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }
}
