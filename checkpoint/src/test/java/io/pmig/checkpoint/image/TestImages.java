package io.pmig.checkpoint.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32C;

// Builds images byte by byte, independently of ImageWriter, so tests can state the format and forge bad input.
final class TestImages {
    static final int PAGE = 4096;
    static final ImageHeader HEADER = new ImageHeader(1, "x86_64", PAGE, "6.1.0-test", 0x2e7L, 2696, "pmig test", 1_700_000_000_000L);

    enum State { RUNNING, STOPPED }

    @ImageKind("test.process")
    record ProcessInfo(int pid, String comm, List<String> argv, Map<String, String> env) {
    }

    @ImageKind("test.thread")
    record ThreadInfo(int tid, long[] regs, byte[] fpu, State state) {
    }

    @ImageKind("test.mapping")
    record Mapping(long start, long end, String path, int prot) {
    }

    private TestImages() {
    }

    static byte[] preamble(int version, int reserved) {
        return ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                .put("PMIGIMG\0".getBytes(StandardCharsets.US_ASCII)).putShort((short) version).putShort((short) reserved)
                .array();
    }

    static byte[] frame(int type, int flags, int reserved, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(12 + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) type).put((byte) flags).putShort((short) reserved).putInt(payload.length).put(payload);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 8 + payload.length);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    static byte[] json(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] headerJson(ImageHeader h) {
        try {
            return ImageJson.MAPPER.writeValueAsBytes(h);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static byte[] pagesPayload(long address, int count, int reserved, byte[] data) {
        return ByteBuffer.allocate(16 + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(address).putInt(count).putInt(reserved).put(data).array();
    }

    static byte[] endJson(long objects, long pagesRecords, long pageBytes) {
        return json("{\"objectRecords\":" + objects + ",\"pagesRecords\":" + pagesRecords + ",\"pageBytes\":" + pageBytes + "}");
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static byte[] pageBytes(long seed, int pages) {
        byte[] b = new byte[pages * PAGE];
        new Random(seed).nextBytes(b);
        return b;
    }

    // A small image of every record type: used for bit flips, truncation and fuzzing.
    static byte[] sample() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ImageWriter w = ImageWriter.to(Channels.newChannel(out), HEADER)) {
            w.writeObject(new ProcessInfo(42, "nginx", List.of("nginx", "-g", "daemon off;"), Map.of("PATH", "/usr/bin")));
            w.writeObject(new ThreadInfo(42, new long[] {1, 2, 0xdeadbeefL}, new byte[] {1, 2, 3}, State.STOPPED));
            w.writePages(0x400000L, ByteBuffer.wrap(pageBytes(1, 1)));
            w.writeObject(new Mapping(0x400000L, 0x402000L, "/usr/sbin/nginx", 5));
            w.writePages(0x7ff000L, ByteBuffer.wrap(pageBytes(2, 1)));
        }
        return out.toByteArray();
    }

    // Start offsets of every record plus the end offset, found by walking the frames.
    static List<Integer> recordBoundaries(byte[] image) {
        List<Integer> at = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int p = 12;
        while (p < image.length) {
            at.add(p);
            p += 12 + b.getInt(p + 4);
        }
        at.add(p);
        return at;
    }

    static int payloadLength(byte[] image, int recordStart) {
        return ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).getInt(recordStart + 4);
    }
}
