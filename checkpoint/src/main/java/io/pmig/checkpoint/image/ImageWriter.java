package io.pmig.checkpoint.image;

import static io.pmig.checkpoint.image.ImageFormat.*;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SelectableChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.zip.CRC32C;

public final class ImageWriter implements Closeable {
    // Small records and frame headers are gathered here so that sparse memory does not cost a syscall per page.
    private static final int STAGING_SIZE = 256 * 1024;
    private static final int COPY_LIMIT = 32 * 1024;

    private final WritableByteChannel channel;
    /** A file the writer opened is closed with it; a caller's channel (a connection) stays open. */
    private final boolean ownsChannel;
    private final int pageSize;
    private final ByteBuffer staging = ByteBuffer.allocateDirect(STAGING_SIZE);
    private final ByteBuffer frame = ByteBuffer.allocate(FRAME_HEADER_SIZE + PAGES_PREFIX_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer trailer = ByteBuffer.allocate(CRC_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer[] gather = new ByteBuffer[2];
    private final CRC32C crc = new CRC32C();
    private final PageRunIndex runs = new PageRunIndex();
    private final PageCompression compression;
    /** Made when the first run is compressed, with the buffer the compressed runs are made in. */
    private ZstdCodec codec;
    private ByteBuffer compressed;
    /** Heap page data is copied here to be compressed: the codec reads native memory. */
    private ByteBuffer directCopy;
    private long bytesWritten;
    private long objectRecords;
    private long pagesRecords;
    private long pageBytes;
    private boolean failed;
    private boolean closed;

    private ImageWriter(WritableByteChannel channel, boolean ownsChannel, ImageHeader header, PageCompression compression) {
        this.channel = channel;
        this.ownsChannel = ownsChannel;
        this.pageSize = header.pageSize();
        this.compression = compression;
    }

    public static ImageWriter create(Path file, ImageHeader header) throws IOException {
        return create(file, header, PageCompression.off());
    }

    public static ImageWriter create(Path file, ImageHeader header, PageCompression compression) throws IOException {
        checkHeader(header);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE);
        return start(channel, true, header, compression);
    }

    // The caller's channel stays open after close() and abort(): what follows the image on it is the caller's.
    // A PageCompressingChannel says how the pages are compressed; onto any other channel they go raw.
    public static ImageWriter to(WritableByteChannel channel, ImageHeader header) throws IOException {
        checkHeader(header);
        if (channel instanceof SelectableChannel selectable && !selectable.isBlocking()) {
            throw new IllegalArgumentException("the image writer needs a blocking channel");
        }
        return start(channel, false, header, channel instanceof PageCompressingChannel c ? c.pageCompression() : PageCompression.off());
    }

    private static void checkHeader(ImageHeader header) {
        List<String> problems = header.problemsAsHeader(ImageHeader.FORMAT_VERSION);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid image header: " + String.join("; ", problems));
        }
    }

    private static ImageWriter start(WritableByteChannel channel, boolean ownsChannel, ImageHeader header,
                                     PageCompression compression) throws IOException {
        ImageWriter writer = new ImageWriter(channel, ownsChannel, header, compression);
        // only an image that may hold compressed runs needs a reader of version 2
        int version = compression.enabled() ? ImageHeader.COMPRESSED_PAGES_VERSION : ImageHeader.FORMAT_VERSION;
        try {
            writer.staging.put(MAGIC).order(ByteOrder.LITTLE_ENDIAN)
                    .putShort((short) version).putShort((short) 0);
            writer.bytesWritten = PREAMBLE_SIZE;
            writer.writeJsonRecord(TYPE_HEADER, ImageJson.MAPPER.writeValueAsBytes(header.withFormatVersion(version)));
            return writer;
        } catch (IOException | RuntimeException | Error e) {
            if (ownsChannel) {
                channel.close();
            }
            throw e;
        }
    }

    public void writeObject(Object value) throws IOException {
        checkOpen();
        byte[] payload = ImageJson.objectPayload(value);
        if (payload.length > MAX_PAYLOAD) {
            throw new IllegalArgumentException(value.getClass().getName() + " serializes to " + payload.length
                    + " bytes; an OBJECT record holds at most " + MAX_PAYLOAD);
        }
        writeJsonRecord(TYPE_OBJECT, payload);
        objectRecords++;
    }

    public void writePages(long address, ByteBuffer pages) throws IOException {
        writePages(address, pages, null);
    }

    /**
     * Whether a run of {@code length} bytes of pages is written as one record of its raw bytes, whose CRC another thread can
     * then compute ahead with {@link RawPagesCrc} (the writer's thread is the one the copy waits for).
     */
    public boolean writesRawRecord(int length) {
        return !compression.enabled() && length <= MAX_PAGE_BYTES_PER_RECORD;
    }

    /** A {@link RawPagesCrc} for this writer's pages. */
    public RawPagesCrc rawPagesCrc() {
        return new RawPagesCrc(pageSize);
    }

    /**
     * {@link #writePages(long, ByteBuffer)} with the record's CRC computed ahead by {@link RawPagesCrc} (with
     * {@link #writesRawRecord} true for its length); {@code crc} null: computed here.
     */
    public void writePages(long address, ByteBuffer pages, Integer crc) throws IOException {
        checkOpen();
        if (crc != null && !writesRawRecord(pages.remaining())) {
            throw new IllegalArgumentException("a CRC computed ahead for a run of " + pages.remaining() + " bytes, which is not written raw");
        }
        int length = pages.remaining();
        if (length == 0) {
            return;
        }
        if (length % pageSize != 0) {
            throw new IllegalArgumentException(length + " bytes of page data is not a multiple of the page size " + pageSize);
        }
        if ((address & (pageSize - 1)) != 0) {
            throw new IllegalArgumentException("page address " + hex(address) + " is not aligned to the page size " + pageSize);
        }
        if (PageRunIndex.wraps(address, length)) {
            throw new IllegalArgumentException("page run at " + hex(address) + " runs past the end of the address space");
        }
        long end = address + length;
        long[] other = runs.overlapping(address, end);
        if (other != null) {
            throw new IllegalArgumentException("page run " + hex(address) + "-" + hex(end) + " overlaps the run "
                    + hex(other[0]) + "-" + hex(other[1]) + " already written; an image stores each page once");
        }
        int from = pages.position();
        int recordBytes = compression.enabled() ? COMPRESSED_RUN_BYTES : MAX_PAGE_BYTES_PER_RECORD;
        guarded(() -> {
            for (int done = 0; done < length; ) {
                int chunk = Math.min(length - done, recordBytes);
                writePagesRecord(address + done, pages.slice(from + done, chunk), crc);
                done += chunk;
            }
        });
        runs.add(address, end);
    }

    private void writePagesRecord(long address, ByteBuffer data, Integer crcAhead) throws IOException {
        int length = data.remaining();
        ByteBuffer stored = data;
        int codecId = 0;
        if (crcAhead == null && compression.shouldTry()) {
            long start = System.nanoTime();
            ByteBuffer packed = compress(data);
            compression.tried(length, packed == null ? length : packed.remaining(), System.nanoTime() - start);
            if (packed != null) {
                stored = packed;
                codecId = ZstdCodec.ID;
            }
        } else {
            compression.counted(length, length);
        }
        pagesFrame(frame, address, stored.remaining(), length / pageSize, codecId);
        int recordCrc = crcAhead != null ? crcAhead : pagesCrc(crc, frame, stored);
        emit(frame);
        emit(stored);
        emitCrc(recordCrc);
        pagesRecords++;
        pageBytes += length;
    }

    /** The frame header and PAGES prefix of a record of {@code storedBytes} bytes holding {@code pages} pages at {@code address}. */
    private static void pagesFrame(ByteBuffer frame, long address, int storedBytes, int pages, int codecId) {
        frame.clear();
        frame.put((byte) TYPE_PAGES).put((byte) (codecId == 0 ? 0 : FLAG_PAGES_COMPRESSED)).putShort((short) 0)
                .putInt(PAGES_PREFIX_SIZE + storedBytes).putLong(address).putInt(pages).putInt(codecId).flip();
    }

    private static int pagesCrc(CRC32C crc, ByteBuffer frame, ByteBuffer stored) {
        crc.reset();
        crc.update(frame.array(), 0, frame.limit());
        crc.update(stored.duplicate());
        return (int) crc.getValue();
    }

    /**
     * Computes the CRC of a PAGES record of raw pages ({@link #writesRawRecord}) on a thread other than the writer's: the
     * page copy's reader thread, right after it filled the buffer, so that the writer's thread only writes. One per thread.
     */
    public static final class RawPagesCrc {
        private final CRC32C crc = new CRC32C();
        private final ByteBuffer frame = ByteBuffer.allocate(FRAME_HEADER_SIZE + PAGES_PREFIX_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        private final int pageSize;

        private RawPagesCrc(int pageSize) {
            this.pageSize = pageSize;
        }

        /** The CRC of the record of the pages {@code pages} (all of its remaining bytes) at {@code address}. */
        public int of(long address, ByteBuffer pages) {
            pagesFrame(frame, address, pages.remaining(), pages.remaining() / pageSize, 0);
            return pagesCrc(crc, frame, pages);
        }
    }

    /** The run compressed, or null when it does not shrink by PageCompression.MIN_SAVING_EIGHTHS/8. */
    private ByteBuffer compress(ByteBuffer data) {
        int length = data.remaining();
        if (codec == null) {
            codec = new ZstdCodec();
            compressed = ByteBuffer.allocateDirect(COMPRESSED_RUN_BYTES);
        }
        ByteBuffer raw = data;
        if (!data.isDirect()) {
            if (directCopy == null) {
                directCopy = ByteBuffer.allocateDirect(COMPRESSED_RUN_BYTES);
            }
            raw = directCopy.clear().put(data.duplicate()).flip();
        }
        int most = length - length * PageCompression.MIN_SAVING_EIGHTHS / 8;
        int n = codec.compress(raw, compressed.slice(0, most));
        return n < 0 ? null : compressed.slice(0, n);
    }

    private void writeJsonRecord(int type, byte[] payload) throws IOException {
        guarded(() -> {
            frame.clear();
            frame.put((byte) type).put((byte) 0).putShort((short) 0).putInt(payload.length).flip();
            crc.reset();
            crc.update(frame.array(), 0, frame.limit());
            crc.update(payload);
            emit(frame);
            emit(ByteBuffer.wrap(payload));
            emitCrc((int) crc.getValue());
        });
    }

    private void emitCrc(int value) throws IOException {
        trailer.clear();
        trailer.putInt(value).flip();
        emit(trailer);
    }

    private void emit(ByteBuffer part) throws IOException {
        int n = part.remaining();
        if (n <= COPY_LIMIT || !part.isDirect()) {
            // Heap data is copied by the JDK anyway; copying it through staging keeps that copy bounded.
            while (part.hasRemaining()) {
                if (!staging.hasRemaining()) {
                    flushStaging();
                }
                int take = Math.min(part.remaining(), staging.remaining());
                staging.put(staging.position(), part, part.position(), take);
                staging.position(staging.position() + take);
                part.position(part.position() + take);
            }
        } else {
            staging.flip();
            writeFully(staging, part);
            staging.clear();
        }
        bytesWritten += n;
    }

    private void flushStaging() throws IOException {
        staging.flip();
        long start = System.nanoTime();
        int n = staging.remaining();
        while (staging.hasRemaining()) {
            channel.write(staging);
        }
        compression.sent(n, System.nanoTime() - start);
        staging.clear();
    }

    private void writeFully(ByteBuffer first, ByteBuffer second) throws IOException {
        long start = System.nanoTime();
        long n = first.remaining() + second.remaining();
        writeBoth(first, second);
        compression.sent(n, System.nanoTime() - start);
    }

    private void writeBoth(ByteBuffer first, ByteBuffer second) throws IOException {
        if (channel instanceof GatheringByteChannel gathering) {
            gather[0] = first;
            gather[1] = second;
            while (second.hasRemaining()) {
                gathering.write(gather);
            }
            gather[0] = null;
            gather[1] = null;
        } else {
            while (first.hasRemaining()) {
                channel.write(first);
            }
            while (second.hasRemaining()) {
                channel.write(second);
            }
        }
    }

    public void flush() throws IOException {
        checkOpen();
        guarded(this::flushStaging);
    }

    public long bytesWritten() {
        return bytesWritten;
    }

    /**
     * The size the image will have once {@code morePagesRecords} PAGES records holding {@code morePageBytes}
     * bytes of pages have been written after what is written now, and END: for progress reports.
     */
    public long projectedSize(long morePagesRecords, long morePageBytes) {
        // with compression: at most, as runs are cut into COMPRESSED_RUN_BYTES and none may shrink
        long records = morePagesRecords + (compression.enabled() ? morePageBytes / COMPRESSED_RUN_BYTES : 0);
        long pages = records * (FRAME_OVERHEAD + PAGES_PREFIX_SIZE) + morePageBytes;
        return bytesWritten + pages + FRAME_OVERHEAD + endPayload(objectRecords, pagesRecords + records,
                pageBytes + morePageBytes).length;
    }

    private static byte[] endPayload(long objectRecords, long pagesRecords, long pageBytes) {
        return ("{\"" + END_OBJECT_RECORDS + "\":" + objectRecords + ",\"" + END_PAGES_RECORDS + "\":"
                + pagesRecords + ",\"" + END_PAGE_BYTES + "\":" + pageBytes + "}").getBytes(StandardCharsets.US_ASCII);
    }

    // Closes without the END record, so that every reader sees the image as truncated. For a checkpoint that
    // failed half-way: try-with-resources would otherwise seal the incomplete image with a valid END.
    public void abort() throws IOException {
        failed = true;
        if (!closed) {
            closed = true;
            closeCodec();
            if (ownsChannel) {
                channel.close();
            }
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        closeCodec();
        try {
            if (!failed) {
                writeJsonRecord(TYPE_END, endPayload(objectRecords, pagesRecords, pageBytes));
                guarded(this::flushStaging);
            }
        } finally {
            if (ownsChannel) {
                channel.close();
            }
        }
    }

    private void closeCodec() {
        if (codec != null) {
            codec.close();
        }
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new IllegalStateException("the image writer is closed");
        }
        if (failed) {
            throw new IOException("the image writer failed earlier; the image is incomplete");
        }
    }

    private interface Step {
        void run() throws IOException;
    }

    // Once a write has failed part-way the stream is unusable; never let close() seal it with an END record.
    private void guarded(Step step) throws IOException {
        try {
            step.run();
        } catch (IOException | RuntimeException | Error e) {
            failed = true;
            throw e;
        }
    }
}
