package io.pmig.checkpoint.image;

import static io.pmig.checkpoint.image.TestImages.*;
import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageRoundTripTest {
    @TempDir
    Path dir;

    @ImageKind("test.versioned")
    record VersionOne(int a, String b) {
    }

    @ImageKind("test.versioned")
    record VersionTwo(int a, String b, long added) {
    }

    @ImageKind("test.versioned")
    record VersionZero(int a) {
    }

    @ImageKind("test.helpers")
    record WithHelpers(int value) {
        public int getDoubled() {
            return value * 2;
        }

        public boolean isBig() {
            return value > 100;
        }
    }

    @ImageKind("test.empty")
    record Marker() {
    }

    @Test
    void headerObjectsAndPagesComeBackExactly() throws IOException {
        Path file = dir.resolve("round.img");
        ProcessInfo process = new ProcessInfo(42, "nginx", List.of("nginx", "-g", "daemon off;"), Map.of("LANG", "C.UTF-8"));
        ThreadInfo t1 = new ThreadInfo(42, new long[] {1, -2, Long.MIN_VALUE}, new byte[] {0, -1, 7}, State.RUNNING);
        ThreadInfo t2 = new ThreadInfo(43, new long[] {}, new byte[0], State.STOPPED);
        Mapping m = new Mapping(0x400000L, 0x404000L, "/usr/sbin/nginx", 5);
        byte[] heapPages = pageBytes(7, 3);
        ByteBuffer directPages = ByteBuffer.allocateDirect(2 * PAGE);
        directPages.put(pageBytes(8, 2)).flip();
        ByteBuffer heap = ByteBuffer.wrap(heapPages);
        heap.position(0);

        long written;
        try (ImageWriter w = ImageWriter.create(file, HEADER)) {
            w.writeObject(process);
            w.writeObject(t1);
            w.writePages(0x400000L, heap);
            w.writeObject(m);
            w.writePages(0x7ffff0000000L, directPages);
            w.writeObject(t2);
            w.writeObject(new Marker());
            assertEquals(0, heap.position(), "writePages must not move the caller's buffer");
            assertEquals(0, directPages.position(), "writePages must not move the caller's buffer");
            w.close();
            written = w.bytesWritten();
        }
        assertEquals(Files.size(file), written);

        try (Image image = Image.open(file)) {
            assertEquals(HEADER, image.header());
            assertEquals(file, image.file());
            assertEquals(process, image.object(ProcessInfo.class));
            List<ThreadInfo> threads = image.objects(ThreadInfo.class);
            assertEquals(2, threads.size());
            assertEquals(42, threads.get(0).tid());
            assertArrayEquals(t1.regs(), threads.get(0).regs());
            assertArrayEquals(t1.fpu(), threads.get(0).fpu());
            assertEquals(State.RUNNING, threads.get(0).state());
            assertEquals(43, threads.get(1).tid());
            assertEquals(m, image.object(Mapping.class));
            assertEquals(new Marker(), image.object(Marker.class));
            assertEquals(List.of("test.process", "test.thread", "test.mapping", "test.empty"), image.objectKinds());

            List<PageRun> runs = image.pageRuns();
            assertEquals(2, runs.size());
            assertEquals(0x400000L, runs.get(0).address());
            assertEquals(3, runs.get(0).pageCount());
            assertEquals(0x400000L + 3 * PAGE, runs.get(0).end(PAGE));
            assertEquals(0x7ffff0000000L, runs.get(1).address());
            assertEquals(2, runs.get(1).pageCount());
            assertEquals(5L * PAGE, image.totalPageBytes());

            ByteBuffer first = image.pageData(runs.get(0));
            assertTrue(first.isDirect());
            assertTrue(first.isReadOnly());
            assertEquals(3 * PAGE, first.remaining());
            assertArrayEquals(heapPages, bytes(first));
            assertArrayEquals(pageBytes(8, 2), bytes(image.pageData(runs.get(1))));
            assertThrows(IllegalArgumentException.class, () -> image.pageData(new PageRun(0x400000L, 3, 1)));
        }
    }

    @Test
    void pageRunsAbove64MiBAreSplitAcrossRecords() throws IOException {
        Path file = dir.resolve("big.img");
        int pages = (64 << 20) / PAGE + 3;
        ByteBuffer data = ByteBuffer.allocateDirect(pages * PAGE);
        for (int i = 0; i < pages; i++) {
            data.putLong(i * PAGE, 0x1000_0000L + i);
        }
        try (ImageWriter w = ImageWriter.create(file, HEADER)) {
            w.writePages(0x10000000L, data);
        }
        try (Image image = Image.open(file)) {
            List<PageRun> runs = image.pageRuns();
            assertEquals(2, runs.size());
            assertEquals((64 << 20) / PAGE, runs.get(0).pageCount());
            assertEquals(runs.get(0).end(PAGE), runs.get(1).address());
            assertEquals(3, runs.get(1).pageCount());
            assertEquals((long) pages * PAGE, image.totalPageBytes());
            long page = 0;
            for (PageRun run : runs) {
                ByteBuffer d = image.pageData(run);
                for (int i = 0; i < run.pageCount(); i++, page++) {
                    assertEquals(0x1000_0000L + page, d.getLong(i * PAGE));
                }
            }
        }
    }

    @Test
    void imagesLargerThanOneMappingWindowReadTheSame() throws IOException {
        Path file = dir.resolve("windows.img");
        try (ImageWriter w = ImageWriter.create(file, HEADER)) {
            for (int i = 0; i < 20; i++) {
                w.writeObject(new Mapping(i, i + 1, "m" + i, i));
                w.writePages(0x100000L * i, ByteBuffer.wrap(pageBytes(i, 1 + i % 3)));
            }
        }
        for (long window : new long[] {1, 5000, 3 * PAGE + 100}) {
            try (Image image = Image.open(file, window)) {
                assertEquals(20, image.objects(Mapping.class).size());
                assertEquals(19L, image.objects(Mapping.class).get(19).prot());
                List<PageRun> runs = image.pageRuns();
                for (int i = 0; i < 20; i++) {
                    assertArrayEquals(pageBytes(i, 1 + i % 3), bytes(image.pageData(runs.get(i))), "run " + i + ", window " + window);
                }
            }
        }
    }

    @Test
    void streamReaderSeesTheSameImageAsTheFileReader() throws IOException {
        byte[] image = sample();
        Path file = dir.resolve("sample.img");
        Files.write(file, image);
        List<String> streamKinds = new ArrayList<>();
        List<String> streamPages = new ArrayList<>();
        try (ImageStreamReader r = ImageStreamReader.open(Channels.newChannel(new java.io.ByteArrayInputStream(image)), "sample")) {
            assertEquals(HEADER, r.header());
            for (ImageRecord rec; (rec = r.next()) != null; ) {
                if (rec instanceof ImageRecord.ObjectRecord o) {
                    streamKinds.add(o.kind());
                    if (o.is(ProcessInfo.class)) {
                        assertEquals(42, o.as(ProcessInfo.class).pid());
                    }
                } else if (rec instanceof ImageRecord.Pages p) {
                    streamPages.add(describe(p.address(), p.pageCount(), p.data()));
                }
            }
            assertTrue(r.finished());
            assertNull(r.next());
            assertEquals(image.length, r.bytesRead());
        }
        assertEquals(List.of("test.process", "test.thread", "test.mapping"), streamKinds);
        try (Image img = Image.open(file)) {
            assertEquals(HEADER, img.header());
            assertEquals(streamKinds, img.objectKinds());
            List<String> filePages = new ArrayList<>();
            for (PageRun run : img.pageRuns()) {
                filePages.add(describe(run.address(), run.pageCount(), img.pageData(run)));
            }
            assertEquals(streamPages, filePages);
            assertEquals(2, filePages.size());
        }
    }

    private static String describe(long address, int pages, ByteBuffer data) {
        return Long.toHexString(address) + "x" + pages + "#" + Arrays.hashCode(bytes(data));
    }

    @Test
    void streamReaderCopesWithDribblingChannelsAndStopsAtEnd() throws IOException {
        byte[] image = sample();
        byte[] after = "NEXT-MESSAGE".getBytes();
        DribbleChannel ch = new DribbleChannel(concat(image, after), 42);
        int records = 0;
        try (ImageStreamReader r = ImageStreamReader.open(ch, "dribble")) {
            while (r.next() != null) {
                records++;
            }
            assertEquals(image.length, r.bytesRead());
            ByteBuffer rest = ByteBuffer.allocate(64);
            while (ch.read(rest) > 0) {
                // drain
            }
            assertEquals("NEXT-MESSAGE", new String(rest.array(), 0, rest.position()));
        }
        assertEquals(5, records);
    }

    @Test
    void writerWorksOverAnyChannel() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ImageWriter w = ImageWriter.to(Channels.newChannel(out), HEADER)) {
            w.writeObject(new Mapping(1, 2, "x", 0));
            w.writePages(0, ByteBuffer.allocateDirect(PAGE * 40));
            w.flush();
            assertEquals(w.bytesWritten(), out.size());
        }
        Path file = dir.resolve("wire.img");
        Files.write(file, out.toByteArray());
        try (Image image = Image.open(file)) {
            assertEquals(40 * PAGE, image.totalPageBytes());
        }
    }

    /** Pages like a heap's: counters and text, which compress. */
    private static byte[] compressiblePages(int pages) {
        byte[] b = new byte[pages * PAGE];
        ByteBuffer w = ByteBuffer.wrap(b);
        for (int i = 0; w.remaining() >= 16; i++) {
            w.putLong(i).put("session!".getBytes());
        }
        return b;
    }

    /** Writes an image of those pages as {@code compression} says; returns its bytes. */
    private static byte[] writeCompressed(PageCompression compression, byte[] text, byte[] random) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ImageWriter w = ImageWriter.to(PageCompressingChannel.over(Channels.newChannel(out), compression), HEADER)) {
            w.writeObject(new Mapping(0x10000000L, 0x20000000L, "[heap]", 3));
            ByteBuffer direct = ByteBuffer.allocateDirect(text.length);
            direct.put(text).flip();
            w.writePages(0x10000000L, direct);
            w.writePages(0x18000000L, ByteBuffer.wrap(random));
            w.writePages(0x1c000000L, ByteBuffer.wrap(text, 0, 3 * PAGE));
        }
        return out.toByteArray();
    }

    @Test
    void compressedRunsComeBackExactlyFromBothReaders() throws IOException {
        byte[] text = compressiblePages(768);     // 3 MiB: three compressed runs
        byte[] random = pageBytes(5, 512);        // 2 MiB: tried, kept raw
        PageCompression c = new PageCompression(PageCompression.Mode.ON, 0);
        byte[] image = writeCompressed(c, text, random);
        assertEquals(2, image[8], "an image that may hold compressed runs is of version 2");
        assertTrue(c.ran());
        assertEquals(4, c.runsCompressed());
        assertEquals(2, c.runsRaw());
        assertEquals(text.length + random.length + 3 * PAGE, c.rawBytes());
        assertTrue(image.length < random.length + text.length / 4, "image of " + image.length + " bytes");
        assertTrue(c.ratio() > 1.5, c.toString());

        Map<Long, byte[]> expected = Map.of(0x10000000L, text, 0x18000000L, random, 0x1c000000L, Arrays.copyOf(text, 3 * PAGE));
        Path file = dir.resolve("compressed.img");
        Files.write(file, image);
        try (Image img = Image.open(file)) {
            assertEquals(2, img.header().formatVersion());
            assertEquals(c.rawBytes(), img.totalPageBytes());
            assertEquals(expected.keySet(), Map.copyOf(gather(img.pageRuns(), img)).keySet());
            gather(img.pageRuns(), img).forEach((at, data) -> assertArrayEquals(expected.get(at), data, Long.toHexString(at)));
        }
        Map<Long, ByteArrayOutputStream> streamed = new java.util.TreeMap<>();
        try (ImageStreamReader r = ImageStreamReader.open(Channels.newChannel(new java.io.ByteArrayInputStream(image)), "z")) {
            for (ImageRecord rec; (rec = r.next()) != null; ) {
                if (rec instanceof ImageRecord.Pages p) {
                    long base = expected.keySet().stream().filter(a -> a <= p.address()).max(Long::compare).orElseThrow();
                    streamed.computeIfAbsent(base, a -> new ByteArrayOutputStream()).writeBytes(bytes(p.data()));
                }
            }
        }
        streamed.forEach((at, data) -> assertArrayEquals(expected.get(at), data.toByteArray(), Long.toHexString(at)));
        assertEquals(3, streamed.size());
    }

    private static Map<Long, byte[]> gather(List<PageRun> runs, Image img) throws IOException {
        Map<Long, ByteArrayOutputStream> all = new java.util.TreeMap<>();
        long base = -1;
        long next = -1;
        for (PageRun run : runs) {
            if (run.address() != next) {
                base = run.address();
            }
            all.computeIfAbsent(base, a -> new ByteArrayOutputStream()).writeBytes(bytes(img.pageData(run)));
            next = run.end(PAGE);
        }
        Map<Long, byte[]> result = new java.util.TreeMap<>();
        all.forEach((a, b) -> result.put(a, b.toByteArray()));
        return result;
    }

    @Test
    void autoCompressesOnlyWhereTheLinkIsTheBottleneck() throws IOException {
        byte[] text = compressiblePages(768);
        byte[] random = pageBytes(6, 512);
        PageCompression slowLink = new PageCompression(PageCompression.Mode.AUTO, 5_000_000);
        writeCompressed(slowLink, text, random);
        assertTrue(slowLink.ran(), slowLink.toString());
        assertTrue(slowLink.ratio() > 1.5, slowLink.toString());
        // a link not yet measured may be fast: nothing is compressed until it is
        PageCompression unknownLink = new PageCompression(PageCompression.Mode.AUTO, 0);
        byte[] image = writeCompressed(unknownLink, text, random);
        assertFalse(unknownLink.ran(), unknownLink.toString());
        assertEquals(1.0, unknownLink.ratio());
        assertEquals(2, image[8]);
        // off: a version-1 image, as a reader of version 1 reads it
        PageCompression off = PageCompression.off();
        image = writeCompressed(off, text, random);
        assertFalse(off.ran());
        assertEquals(1, image[8]);
    }

    /** A link of about 20 MB/s: each write waits a millisecond per 20 kB. */
    private static final class SlowLink implements WritableByteChannel {
        long bytes;

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = src.remaining();
            src.position(src.limit());
            bytes += n;
            try {
                Thread.sleep(Math.max(1, n / 20_000));
            } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException();
            }
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    @Test
    void autoCompressesOnceItHasMeasuredASlowLink() throws IOException {
        PageCompression auto = new PageCompression(PageCompression.Mode.AUTO, 0);
        SlowLink link = new SlowLink();
        byte[] text = compressiblePages(256);      // 1 MiB
        try (ImageWriter w = ImageWriter.to(PageCompressingChannel.over(link, auto), HEADER)) {
            for (int i = 0; i < 24; i++) {
                w.writePages(0x10000000L + i * (long) text.length, ByteBuffer.wrap(text));
            }
        }
        // the first 16 MiB measure the link and go raw; the rest goes compressed
        assertTrue(auto.ran() && auto.runsCompressed() >= 4 && auto.runsRaw() >= 16, auto.toString());
        assertTrue(link.bytes < 24L * text.length - 4L * text.length / 2, link.bytes + " bytes went over the link");
    }

    @Test
    void missingFieldsTakeDefaultsButUnknownFieldsAreRefused() throws IOException {
        Path file = dir.resolve("versions.img");
        try (ImageWriter w = ImageWriter.create(file, HEADER)) {
            w.writeObject(new VersionOne(1, "one"));
        }
        try (Image image = Image.open(file)) {
            assertEquals(new VersionTwo(1, "one", 0L), image.object(VersionTwo.class));
            ImageException e = assertThrows(ImageException.class, () -> image.object(VersionZero.class));
            assertEquals(ImageException.Reason.INCOMPATIBLE, e.reason());
            assertTrue(e.getMessage().contains("test.versioned"), e.getMessage());
            assertTrue(e.getMessage().contains("\"b\""), e.getMessage());
            UncheckedIOException u = assertThrows(UncheckedIOException.class, () -> image.objects(VersionZero.class));
            assertInstanceOf(ImageException.class, u.getCause());
        }
    }

    @Test
    void helperMethodsOfRecordsAreNotPartOfTheStoredFields() throws IOException {
        Path file = dir.resolve("helpers.img");
        try (ImageWriter w = ImageWriter.create(file, HEADER)) {
            w.writeObject(new WithHelpers(500));
        }
        try (Image image = Image.open(file)) {
            assertEquals(new WithHelpers(500), image.object(WithHelpers.class));
        }
        String text = new String(Files.readAllBytes(file), java.nio.charset.StandardCharsets.ISO_8859_1);
        assertTrue(text.contains("{\"kind\":\"test.helpers\",\"value\":500}"), text);
    }

    @Test
    void objectRequiresExactlyOne() throws IOException {
        Path file = dir.resolve("one.img");
        try (ImageWriter w = ImageWriter.create(file, HEADER)) {
            w.writeObject(new Mapping(1, 2, "a", 0));
            w.writeObject(new Mapping(3, 4, "b", 0));
        }
        try (Image image = Image.open(file)) {
            ImageException two = assertThrows(ImageException.class, () -> image.object(Mapping.class));
            assertTrue(two.getMessage().contains("2 OBJECT records of kind 'test.mapping'"), two.getMessage());
            ImageException none = assertThrows(ImageException.class, () -> image.object(ProcessInfo.class));
            assertTrue(none.getMessage().contains("0 OBJECT records of kind 'test.process'"), none.getMessage());
            assertEquals(List.of(), image.objects(ThreadInfo.class));
        }
    }

    @Test
    void forThisMachineDescribesTheHost() {
        ImageHeader h = ImageHeader.forThisMachine(0x7L, 832);
        assertEquals(ImageHeader.FORMAT_VERSION, h.formatVersion());
        if (System.getProperty("os.arch").equals("amd64")) {
            assertEquals("x86_64", h.arch());
        }
        assertTrue(h.pageSize() >= 4096 && Integer.bitCount(h.pageSize()) == 1);
        assertFalse(h.kernelRelease().isBlank());
        assertEquals(0x7L, h.xfeatures());
        assertEquals(832, h.xstateSize());
        assertTrue(h.createdBy().startsWith("pmig "), h.createdBy());
        assertTrue(Math.abs(System.currentTimeMillis() - h.createdAtMillis()) < 60_000);
    }

    @Test
    void compatibleHeadersPass() throws IOException {
        Path file = dir.resolve("compat.img");
        Files.write(file, sample());
        try (Image image = Image.open(file)) {
            image.requireCompatibleWith(HEADER);
            image.requireCompatibleWith(new ImageHeader(1, "x86_64", PAGE, "6.9.0-other", 0x2ffL, 2700, "pmig x", 0));
        }
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    // Hands out at most a few bytes per read, like a slow socket.
    static final class DribbleChannel implements java.nio.channels.ReadableByteChannel {
        private final byte[] data;
        private final java.util.Random random;
        private int pos;
        private boolean open = true;

        DribbleChannel(byte[] data, long seed) {
            this.data = data;
            this.random = new java.util.Random(seed);
        }

        @Override
        public int read(ByteBuffer dst) {
            if (pos == data.length) {
                return -1;
            }
            int n = Math.min(Math.min(dst.remaining(), 1 + random.nextInt(7)), data.length - pos);
            dst.put(data, pos, n);
            pos += n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }
}
