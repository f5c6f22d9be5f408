package io.pmig.checkpoint.image;

import static io.pmig.checkpoint.image.ImageException.Reason.*;
import static io.pmig.checkpoint.image.TestImages.*;
import static org.junit.jupiter.api.Assertions.*;

import io.pmig.checkpoint.image.ImageException.Reason;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import com.github.luben.zstd.Zstd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageRefusalTest {
    @TempDir(factory = MemoryTempDirFactory.class)
    Path dir;

    private static final byte[] PREAMBLE = preamble(1, 0);
    private static final byte[] HEADER_RECORD = frame(1, 0, 0, headerJson(HEADER));
    private static final byte[] PAGE_1 = pageBytes(11, 1);

    private static byte[] image(byte[]... records) {
        return concat(PREAMBLE, concat(records));
    }

    private static byte[] end(long objects, long pages, long bytes) {
        return frame(4, 0, 0, endJson(objects, pages, bytes));
    }

    private static byte[] object(String json) {
        return frame(2, 0, 0, json(json));
    }

    private static byte[] pages(long address, byte[] data) {
        return frame(3, 0, 0, pagesPayload(address, data.length / PAGE, 0, data));
    }

    private int files;

    // A fresh file per case: rewriting one file that earlier (refused) opens still have mapped is slow.
    private ImageException openRefused(byte[] bytes, String what) throws IOException {
        Path file = dir.resolve("bad-" + files++ + ".img");
        Files.write(file, bytes);
        try {
            ImageException e = assertThrows(ImageException.class, () -> Image.open(file).close(), what);
            assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
            return e;
        } finally {
            Files.delete(file);
        }
    }

    // Both readers must refuse with the same reason and wording.
    private ImageException refused(byte[] bytes, Reason reason, String... fragments) throws IOException {
        ImageException e = openRefused(bytes, "file reader");
        check(e, reason, fragments);
        ImageException s = assertThrows(ImageException.class, () -> readStream(bytes));
        check(s, reason, fragments);
        assertEquals(e.offset(), s.offset());
        assertEquals(e.recordIndex(), s.recordIndex());
        return e;
    }

    static void readStream(byte[] bytes) throws IOException {
        try (ImageStreamReader r = ImageStreamReader.open(Channels.newChannel(new ByteArrayInputStream(bytes)), "stream")) {
            while (r.next() != null) {
                // consume everything
            }
        }
    }

    private static void check(ImageException e, Reason reason, String... fragments) {
        assertEquals(reason, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains(reason.phrase()), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "expected '" + f + "' in: " + e.getMessage());
        }
    }

    @Test
    void wellFormedBaseImagePasses() throws IOException {
        byte[] ok = image(HEADER_RECORD, object("{\"kind\":\"x\"}"), pages(0x1000, PAGE_1), end(1, 1, PAGE));
        Path file = dir.resolve("ok.img");
        Files.write(file, ok);
        try (Image image = Image.open(file)) {
            assertEquals(1, image.pageRuns().size());
        }
        readStream(ok);
    }

    @Test
    void wrongMagicIsForeign() throws IOException {
        byte[] elf = concat(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}, new byte[200]);
        refused(elf, FOREIGN, "does not start with the pmig image magic", "7f 45 4c 46 02 01 01 00", "at byte offset 0");
        refused("PMIGIMG1xxxxxxxxxxxxxxxxx".getBytes(), FOREIGN, "pmig image magic");
        refused("PM".getBytes(), TRUNCATED, "ends after 2 bytes, inside the 12-byte preamble");
        refused(new byte[0], TRUNCATED, "the input is empty");
    }

    @Test
    void unsupportedVersionIsIncompatible() throws IOException {
        byte[] v3 = concat(preamble(3, 0), HEADER_RECORD, end(0, 0, 0));
        refused(v3, INCOMPATIBLE, "format version 3 is not supported by this reader, which reads versions 1 and 2");
        refused(concat(preamble(1, 5), HEADER_RECORD, end(0, 0, 0)), CORRUPT, "reserved preamble field is 5");
    }

    @Test
    void everyFlippedBitOutsidePageDataIsRefusedAndPayloadFlipsAreCrcMismatches() throws IOException {
        byte[] good = sample();
        List<Integer> bounds = recordBoundaries(good);
        int checked = 0;
        for (int bit = 0; bit < good.length * 8; bit++) {
            int at = bit / 8;
            if (inPageData(good, bounds, at) && bit % 61 != 0) {
                continue; // page data is covered by the same CRC path; sample it to keep the suite fast
            }
            byte[] bad = good.clone();
            bad[at] ^= (byte) (1 << (bit % 8));
            ImageException e = assertThrows(ImageException.class, () -> readStream(bad), "bit " + bit);
            if (bit % 8 == at % 8) {
                // The file reader differs only in how it gets bytes: one flipped bit per byte is enough for it.
                ImageException f = openRefused(bad, "bit " + bit);
                assertEquals(e.reason(), f.reason(), "bit " + bit);
                assertEquals(e.offset(), f.offset(), "bit " + bit);
            }
            String where = "bit " + bit + " (byte " + at + "): " + e.getMessage();
            if (at < 8) {
                assertEquals(FOREIGN, e.reason(), where);
            } else if (at < 10) {
                assertEquals(INCOMPATIBLE, e.reason(), where);
            } else if (at < 12) {
                assertEquals(CORRUPT, e.reason(), where);
            } else {
                int record = recordStart(bounds, at);
                int inRecord = at - record;
                if (inRecord < 4 || inRecord >= 8) {
                    // type, flags, reserved, payload or the CRC itself: only the checksum can tell.
                    assertTrue(e.getMessage().contains("CRC32C mismatch"), where);
                    assertEquals(CORRUPT, e.reason(), where);
                    assertEquals(record, e.offset(), where);
                } else {
                    assertTrue(e.reason() == CORRUPT || e.reason() == TRUNCATED, where);
                }
            }
            checked++;
        }
        assertTrue(checked > 4000, "checked " + checked);
    }

    private static boolean inPageData(byte[] image, List<Integer> bounds, int at) {
        for (int i = 0; i + 1 < bounds.size(); i++) {
            int start = bounds.get(i);
            if (image[start] == 3 && at >= start + 8 + 16 && at < bounds.get(i + 1) - 4) {
                return true;
            }
        }
        return false;
    }

    private static int recordStart(List<Integer> bounds, int at) {
        int start = bounds.get(0);
        for (int b : bounds) {
            if (b <= at) {
                start = b;
            }
        }
        return start;
    }

    @Test
    void truncationAnywhereIsRefusedAsTruncated() throws IOException {
        byte[] good = sample();
        List<Integer> bounds = recordBoundaries(good);
        for (int len = 0; len < good.length; len++) {
            byte[] cut = Arrays.copyOf(good, len);
            ImageException e = assertThrows(ImageException.class, () -> readStream(cut), "length " + len);
            String where = "cut at " + len + ": " + e.getMessage();
            assertEquals(TRUNCATED, e.reason(), where);
            if (!inPageData(good, bounds, len) || len % 61 == 0) {
                assertEquals(TRUNCATED, openRefused(cut, "length " + len).reason(), where);
            }
            if (len >= 12 && bounds.contains(len)) {
                assertTrue(e.getMessage().contains("without an END record")
                        || e.getMessage().contains("before the HEADER record"), where);
                assertEquals(len, e.offset(), where);
            }
        }
    }

    @Test
    void missingEndIsTruncated() throws IOException {
        byte[] noEnd = image(HEADER_RECORD, object("{\"kind\":\"a\"}"), pages(0x1000, PAGE_1));
        ImageException e = refused(noEnd, TRUNCATED, "ends after 3 records without an END record", "record #3");
        assertEquals(noEnd.length, e.offset());

        Path file = dir.resolve("aborted.img");
        ImageWriter w = ImageWriter.create(file, HEADER);
        w.writeObject(new Mapping(1, 2, "a", 0));
        w.writePages(0x1000, ByteBuffer.allocateDirect(64 * PAGE));
        w.abort();
        w.close();
        ImageException aborted = assertThrows(ImageException.class, () -> Image.open(file));
        assertEquals(TRUNCATED, aborted.reason(), aborted.getMessage());
    }

    @Test
    void droppedOrDuplicatedRecordsAreCaughtByTheEndCounts() throws IOException {
        byte[] o1 = object("{\"kind\":\"a\"}");
        byte[] o2 = object("{\"kind\":\"b\"}");
        refused(image(HEADER_RECORD, o1, pages(0x1000, PAGE_1), end(2, 1, PAGE)), CORRUPT,
                "the END record counts 2 OBJECT records, 1 PAGES records and 4096 page bytes, but the image holds 1 OBJECT"
                        + " records, 1 PAGES records and 4096 page bytes: records were lost or added");
        refused(image(HEADER_RECORD, o1, o2, o2, end(2, 0, 0)), CORRUPT, "records were lost or added");
        refused(image(HEADER_RECORD, o1, end(1, 1, PAGE)), CORRUPT, "records were lost or added");
        check(openRefused(image(HEADER_RECORD, end(0, 0, 0), end(0, 0, 0)), "two ENDs"), CORRUPT, "follow the END record");
    }

    @Test
    void trailingGarbageIsRefusedByTheFileReader() throws IOException {
        byte[] bytes = concat(sample(), new byte[] {0});
        check(openRefused(bytes, "trailing"), CORRUPT, "1 bytes follow the END record; END must be the last record", "at byte offset " + (bytes.length - 1));
        // The stream reader stops at END by design: what follows on a connection is not its business.
        readStream(bytes);
    }

    @Test
    void unknownRecordTypesAndFlagsAreNamed() throws IOException {
        refused(image(HEADER_RECORD, frame(9, 0, 0, json("{}")), end(0, 0, 0)), CORRUPT,
                "unknown record type 9", "record #1");
        refused(image(HEADER_RECORD, frame(0, 0, 0, new byte[0]), end(0, 0, 0)), CORRUPT, "unknown record type 0");
        refused(image(HEADER_RECORD, frame(2, 0x02, 0, json("{\"kind\":\"a\"}")), end(1, 0, 0)), CORRUPT,
                "unknown flag bits 0x2 on an OBJECT record");
        refused(image(HEADER_RECORD, frame(2, 0x01, 0, json("{\"kind\":\"a\"}")), end(1, 0, 0)), CORRUPT,
                "unknown flag bits 0x1 on an OBJECT record");
        refused(image(frame(1, 0x01, 0, headerJson(HEADER)), end(0, 0, 0)), CORRUPT, "unknown flag bits 0x1 on a HEADER record");
        refused(image(HEADER_RECORD, frame(3, 0x80, 0, pagesPayload(0x1000, 1, 0, PAGE_1)), end(0, 1, PAGE)), CORRUPT,
                "unknown flag bits 0x80 on a PAGES record");
        refused(image(HEADER_RECORD, frame(2, 0, 7, json("{\"kind\":\"a\"}")), end(1, 0, 0)), CORRUPT,
                "reserved frame field of an OBJECT record is 7");
    }

    @Test
    void compressedPagesOfVersionOneAreRefused() throws IOException {
        refused(image(HEADER_RECORD, frame(3, 0x01, 0, pagesPayload(0x1000, 1, 1, Zstd.compress(PAGE_1))), end(0, 1, PAGE)),
                CORRUPT, "compressed page data in an image of format version 1; compressed runs come with version 2", "record #1");
    }

    private static byte[] compressedImage(byte[]... records) {
        return concat(preamble(2, 0), frame(1, 0, 0, headerJson(HEADER.withFormatVersion(2))), concat(records));
    }

    private static byte[] compressedPages(long address, int count, int codecAndReserved, byte[] stored) {
        return frame(3, 0x01, 0, pagesPayload(address, count, codecAndReserved, stored));
    }

    @Test
    void badCompressedPagesAreRefused() throws IOException {
        byte[] two = new byte[2 * PAGE];
        Arrays.fill(two, (byte) 7);
        byte[] packed = Zstd.compress(two);
        refused(compressedImage(compressedPages(0x1000, 2, 9, packed), end(0, 1, 2 * PAGE)), INCOMPATIBLE,
                "compressed with page codec 9, which this reader does not know");
        refused(compressedImage(compressedPages(0x1000, 2, 0x101, packed), end(0, 1, 2 * PAGE)), CORRUPT,
                "reserved field of the PAGES run header is 256");
        refused(compressedImage(compressedPages(0x1000, 3, 1, packed), end(0, 1, 3 * PAGE)), CORRUPT,
                "decompresses to 8192 bytes, not the 12288 bytes of its 3 pages");
        refused(compressedImage(compressedPages(0x1000, 1, 1, packed), end(0, 1, PAGE)), CORRUPT,
                "decompresses to more than 4096 bytes, not the 4096 bytes of its 1 pages");
        refused(compressedImage(compressedPages(0x1000, 2, 1, Arrays.copyOf(packed, packed.length - 3)), end(0, 1, 2 * PAGE)),
                CORRUPT, "the compressed page data does not decompress");
        refused(compressedImage(compressedPages(0x1000, 20000, 1, packed), end(0, 1, 2 * PAGE)), CORRUPT,
                "a record holds at most 67108864 bytes of page data");
        // well formed, it reads as its pages
        byte[] good = compressedImage(compressedPages(0x1000, 2, 1, packed), end(0, 1, 2 * PAGE));
        Path file = dir.resolve("good.img");
        Files.write(file, good);
        try (Image image = Image.open(file)) {
            ByteBuffer data = image.pageData(image.pageRuns().get(0));
            byte[] back = new byte[data.remaining()];
            data.get(back);
            assertArrayEquals(two, back);
        }
    }

    @Test
    void overlappingPageRunsAreRefused() throws IOException {
        byte[] two = pageBytes(3, 2);
        refused(image(HEADER_RECORD, pages(0x10000, two), pages(0x11000, PAGE_1), end(0, 2, 3 * PAGE)), CORRUPT,
                "the PAGES run 0x11000-0x12000 overlaps the earlier run 0x10000-0x12000", "record #2");
        refused(image(HEADER_RECORD, pages(0x11000, PAGE_1), pages(0x10000, two), end(0, 2, 3 * PAGE)), CORRUPT,
                "overlaps the earlier run 0x11000-0x12000");
        refused(image(HEADER_RECORD, pages(0x10000, PAGE_1), pages(0x10000, PAGE_1), end(0, 2, 2 * PAGE)), CORRUPT, "overlaps");
        // Adjacent runs and addresses above 2^63 are fine.
        byte[] ok = image(HEADER_RECORD, pages(0x11000, PAGE_1), pages(0x10000, PAGE_1), pages(0xffffffffffffd000L, PAGE_1),
                end(0, 3, 3 * PAGE));
        readStream(ok);
    }

    @Test
    void malformedPagesRecordsAreRefused() throws IOException {
        refused(image(HEADER_RECORD, frame(3, 0, 0, pagesPayload(0x1000, 2, 0, PAGE_1)), end(0, 1, PAGE)), CORRUPT,
                "declares 2 pages of 4096 bytes but carries 4096 bytes");
        refused(image(HEADER_RECORD, frame(3, 0, 0, pagesPayload(0x1000, 0, 0, new byte[0])), end(0, 0, 0)), CORRUPT,
                "holds no pages");
        refused(image(HEADER_RECORD, frame(3, 0, 0, pagesPayload(0x1001, 1, 0, PAGE_1)), end(0, 1, PAGE)), CORRUPT,
                "0x1001 is not aligned to the page size 4096");
        refused(image(HEADER_RECORD, frame(3, 0, 0, pagesPayload(0x1000, 1, 3, PAGE_1)), end(0, 1, PAGE)), CORRUPT,
                "reserved field of the PAGES run header is 3");
        refused(image(HEADER_RECORD, frame(3, 0, 0, new byte[10]), end(0, 1, PAGE)), CORRUPT,
                "PAGES payload has 10 bytes, less than its 16-byte run header");
        refused(image(HEADER_RECORD, frame(3, 0, 0, pagesPayload(0xfffffffffffff000L, 1, 0, PAGE_1)), end(0, 1, PAGE)),
                CORRUPT, "runs past the end of the address space");
    }

    @Test
    void recordOrderIsEnforced() throws IOException {
        refused(image(object("{\"kind\":\"a\"}"), HEADER_RECORD, end(1, 0, 0)), CORRUPT,
                "the first record is OBJECT; an image must begin with a HEADER record", "record #0 at byte offset 12");
        refused(image(end(0, 0, 0)), CORRUPT, "the first record is END");
        refused(image(HEADER_RECORD, HEADER_RECORD, end(0, 0, 0)), CORRUPT, "a second HEADER record", "record #1");
        refused(PREAMBLE, TRUNCATED, "before the HEADER record");
    }

    @Test
    void badJsonPayloadsAreRefused() throws IOException {
        refused(image(frame(1, 0, 0, json("{\"formatVersion\":1,\"pageSize\":4096}")), end(0, 0, 0)), CORRUPT,
                "not a valid image header", "arch is missing");
        refused(image(frame(1, 0, 0, json("{\"formatVersion\":1,\"arch\":\"x86_64\",\"pageSize\":4096,\"colour\":1}")),
                end(0, 0, 0)), CORRUPT, "not a valid image header", "colour");
        refused(image(frame(1, 0, 0, json("{\"formatVersion\":2,\"arch\":\"x86_64\",\"pageSize\":4096}")), end(0, 0, 0)),
                CORRUPT, "formatVersion 2 does not match the file's format version 1");
        refused(image(frame(1, 0, 0, json("{\"formatVersion\":1,\"arch\":\"x86_64\",\"pageSize\":4000}")), end(0, 0, 0)),
                CORRUPT, "pageSize 4000 is not a power of two");
        refused(image(frame(1, 0, 0, json("[1,2]")), end(0, 0, 0)), CORRUPT, "the HEADER payload is not a JSON object");
        refused(image(HEADER_RECORD, object("{\"pid\":1}"), end(1, 0, 0)), CORRUPT, "the OBJECT record has no \"kind\" string");
        refused(image(HEADER_RECORD, object("{\"kind\":7}"), end(1, 0, 0)), CORRUPT, "no \"kind\" string");
        refused(image(HEADER_RECORD, object("{\"kind\":\"a\"} {}"), end(1, 0, 0)), CORRUPT, "the OBJECT payload is not valid JSON");
        refused(image(HEADER_RECORD, object("{\"kind\":\"a\",\"kind\":\"b\"}"), end(1, 0, 0)), CORRUPT, "not valid JSON", "kind");
        refused(image(HEADER_RECORD, frame(2, 0, 0, new byte[] {'{', '"', (byte) 0xff, '"', ':', '1', '}'}), end(1, 0, 0)),
                CORRUPT, "not valid JSON");
        refused(image(HEADER_RECORD, frame(2, 0, 0, new byte[0]), end(1, 0, 0)), CORRUPT, "OBJECT payload is not a JSON object");
        refused(image(HEADER_RECORD, frame(4, 0, 0, json("{\"objectRecords\":0,\"pagesRecords\":0}"))), CORRUPT,
                "lacks a non-negative integer \"pageBytes\"");
        refused(image(HEADER_RECORD, frame(4, 0, 0, json("{\"objectRecords\":0,\"pagesRecords\":0,\"pageBytes\":0,\"x\":1}"))),
                CORRUPT, "unknown field \"x\"");
    }

    @Test
    void lengthFieldsAreCheckedBeforeAnythingIsAllocated() throws IOException {
        byte[] huge = ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .put((byte) 2).put((byte) 0).putShort((short) 0).putInt(ImageFormat.MAX_PAYLOAD + 1).array();
        refused(image(HEADER_RECORD, huge), CORRUPT, "declares a payload of 67108881 bytes; the format allows at most 67108880");
        byte[] big = ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .put((byte) 3).put((byte) 0).putShort((short) 0).putInt(ImageFormat.MAX_PAYLOAD).array();
        byte[] bytes = image(HEADER_RECORD, big, new byte[100]);
        ImageException e = refused(bytes, TRUNCATED);
        assertTrue(e.getMessage().contains("but only 100 bytes follow its frame header"), e.getMessage());
        assertEquals(12 + HEADER_RECORD.length, e.offset());
        try (ImageStreamReader r = ImageStreamReader.open(Channels.newChannel(new ByteArrayInputStream(bytes)), "s")) {
            ImageException s = assertThrows(ImageException.class, r::next);
            assertTrue(s.getMessage().contains("the input ends 100 bytes into the 67108884 bytes"), s.getMessage());
            assertTrue(r.bufferCapacity() <= 64 * 1024, "stream reader allocated " + r.bufferCapacity());
            assertSame(s, assertThrows(ImageException.class, r::next), "a failed stream stays failed");
        }
    }

    @Test
    void incompatibleHostsAreRefusedWithBothMachinesNamed() throws IOException {
        Path file = dir.resolve("host.img");
        Files.write(file, sample());
        try (Image image = Image.open(file)) {
            ImageException arch = assertThrows(ImageException.class, () ->
                    image.requireCompatibleWith(new ImageHeader(1, "aarch64", PAGE, "6.5.0-arm", 0, 0, "pmig", 0)));
            check(arch, INCOMPATIBLE, "image made on x86_64/6.1.0-test (page size 4096, xfeatures 0x2e7, xstate 2696 bytes);"
                    + " this host is aarch64/6.5.0-arm", "the architecture differs", file.toString());
            ImageException page = assertThrows(ImageException.class, () ->
                    image.requireCompatibleWith(new ImageHeader(1, "x86_64", 16384, "6.1.0-test", 0x2e7L, 2696, "pmig", 0)));
            check(page, INCOMPATIBLE, "the page size differs");
            ImageException features = assertThrows(ImageException.class, () ->
                    image.requireCompatibleWith(new ImageHeader(1, "x86_64", PAGE, "6.1.0-test", 0x7L, 2696, "pmig", 0)));
            check(features, INCOMPATIBLE, "XSAVE features 0x2e0 that this CPU lacks");
            ImageException size = assertThrows(ImageException.class, () ->
                    image.requireCompatibleWith(new ImageHeader(1, "x86_64", PAGE, "6.1.0-test", 0x2e7L, 832, "pmig", 0)));
            check(size, INCOMPATIBLE, "xstate area (2696 bytes) is larger than this CPU's (832 bytes)");
        }
        try (ImageStreamReader r = ImageStreamReader.open(Channels.newChannel(new ByteArrayInputStream(sample())), "peer node-a")) {
            ImageException e = assertThrows(ImageException.class, () ->
                    r.requireCompatibleWith(new ImageHeader(1, "aarch64", PAGE, "6.5.0", 0, 0, "pmig", 0)));
            check(e, INCOMPATIBLE, "peer node-a: image is incompatible");
        }
    }

    @Test
    void writerRefusesWhatReadersWouldRefuse() throws IOException {
        Path file = dir.resolve("w.img");
        try (ImageWriter w = ImageWriter.create(file, HEADER)) {
            assertThrows(IllegalArgumentException.class, () -> w.writePages(0x1000, ByteBuffer.allocate(100)));
            assertThrows(IllegalArgumentException.class, () -> w.writePages(0x1800, ByteBuffer.allocate(PAGE)));
            assertThrows(IllegalArgumentException.class, () -> w.writePages(0xfffffffffffff000L, ByteBuffer.allocate(2 * PAGE)));
            w.writePages(0x10000, ByteBuffer.allocate(2 * PAGE));
            IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class,
                    () -> w.writePages(0x11000, ByteBuffer.allocate(PAGE)));
            assertTrue(overlap.getMessage().contains("overlaps"), overlap.getMessage());
            w.writePages(0x12000, ByteBuffer.allocate(PAGE));
            w.writePages(0x5000, ByteBuffer.allocate(0));
            assertThrows(IllegalArgumentException.class, () -> w.writeObject("not a record"));
            assertThrows(IllegalArgumentException.class, () -> w.writeObject(new Unannotated(1)));
            assertThrows(IllegalArgumentException.class, () -> w.writeObject(new HasKind("x")));
        }
        try (Image image = Image.open(file)) {
            assertEquals(2, image.pageRuns().size());
        }
        ImageWriter closed = ImageWriter.create(file, HEADER);
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.writeObject(new Mapping(1, 2, "a", 0)));
        assertThrows(IllegalArgumentException.class, () -> ImageWriter.create(file,
                new ImageHeader(1, "x86_64", 3000, "k", 0, 0, "pmig", 0)));
    }

    record Unannotated(int a) {
    }

    @ImageKind("test.haskind")
    record HasKind(String kind) {
    }
}
