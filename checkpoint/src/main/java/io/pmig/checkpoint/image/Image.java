package io.pmig.checkpoint.image;

import static io.pmig.checkpoint.image.ImageFormat.*;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

public final class Image implements Closeable {
    // A mapping is limited to 2 GiB, so big images are covered by several windows.
    private static final long WINDOW_SIZE = 1L << 30;

    private final Path file;
    private final FileChannel channel;
    private final long size;
    private final long windowSize;
    private final List<MappedByteBuffer> windows = new ArrayList<>();
    private final List<Long> windowStarts = new ArrayList<>();
    private final List<ImageRecord.ObjectRecord> objects = new ArrayList<>();
    private final List<PageRun> runs = new ArrayList<>();
    private int[] runWindow = new int[16];
    private long[] runDataOffsets = new long[16];
    /** A compressed run's pages, decompressed when the image was opened (null for a raw run: it is read from the mapping). */
    private ByteBuffer[] runPages = new ByteBuffer[16];
    private ImageHeader header;
    private long totalPageBytes;
    /** The refusal of the bytes after the END record, if any follow. */
    private ImageException trailingBytes;
    private volatile boolean closed;

    private Image(Path file, FileChannel channel, long windowSize) throws IOException {
        this.file = file;
        this.channel = channel;
        this.size = channel.size();
        this.windowSize = windowSize;
    }

    public static Image open(Path file) throws ImageException, IOException {
        return open(file, WINDOW_SIZE);
    }

    /**
     * The first image of a file whose pages are authenticated before they are used (its MAC, imagedir/ImageMac): their
     * CRCs are not computed, a second pass over every byte for nothing; every other record's is, and all the framing
     * checked. Bytes may follow its END record (a process tree's file holds one image per process): see
     * {@link #requireAlone}.
     */
    public static Image openAuthenticated(Path file) throws ImageException, IOException {
        return open(file, WINDOW_SIZE, true);
    }

    static Image open(Path file, long windowSize) throws ImageException, IOException {
        Image image = open(file, windowSize, false);
        try {
            image.requireAlone();
            return image;
        } catch (ImageException e) {
            image.close();
            throw e;
        }
    }

    private static Image open(Path file, long windowSize, boolean pagesAuthenticated) throws ImageException, IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            Image image = new Image(file, channel, windowSize);
            image.load(pagesAuthenticated);
            return image;
        } catch (IOException | RuntimeException | Error e) {
            channel.close();
            throw e;
        }
    }

    private void load(boolean pagesAuthenticated) throws IOException {
        ImageParser parser = new ImageParser(file.toString(), pagesAuthenticated);
        parser.preamble(region(0, (int) Math.min(size, PREAMBLE_SIZE)));
        while (!parser.ended()) {
            long at = parser.offset();
            long left = size - at;
            if (left == 0) {
                parser.endOfInput();
            }
            if (left < FRAME_HEADER_SIZE) {
                parser.truncatedFrameHeader(left);
            }
            int length = parser.frameHeader(region(at, FRAME_HEADER_SIZE), left - FRAME_HEADER_SIZE);
            ByteBuffer frame = region(at, FRAME_OVERHEAD + length);
            int storedCrc = frame.order(ByteOrder.LITTLE_ENDIAN).getInt(FRAME_HEADER_SIZE + length);
            ImageRecord record = parser.record(frame.slice(FRAME_HEADER_SIZE, length), storedCrc);
            if (record instanceof ImageRecord.ObjectRecord object) {
                objects.add(object);
            } else if (record instanceof ImageRecord.Pages pages) {
                // the parser decompresses into a buffer of its own that the next record reuses
                ByteBuffer kept = pages.compressed() ? ByteBuffer.allocateDirect(pages.data().remaining()).put(pages.data()).flip() : null;
                addRun(new PageRun(pages.address(), pages.pageCount(), at + FRAME_HEADER_SIZE + PAGES_PREFIX_SIZE), kept);
            }
        }
        if (parser.offset() < size) {
            try {
                parser.trailingBytes(size - parser.offset());
            } catch (ImageException e) {
                trailingBytes = e;
            }
        }
        header = parser.header();
        totalPageBytes = parser.pageBytes();
    }

    private void addRun(PageRun run, ByteBuffer decompressed) {
        int i = runs.size();
        if (i == runWindow.length) {
            runWindow = Arrays.copyOf(runWindow, i * 2);
            runDataOffsets = Arrays.copyOf(runDataOffsets, i * 2);
            runPages = Arrays.copyOf(runPages, i * 2);
        }
        runWindow[i] = windows.size() - 1;
        runDataOffsets[i] = run.dataOffset();
        runPages[i] = decompressed;
        runs.add(run);
    }

    // Regions are asked for in increasing file order, so only the newest window can hold the next one.
    private ByteBuffer region(long offset, int length) throws IOException {
        int last = windows.size() - 1;
        if (last < 0 || offset < windowStarts.get(last)
                || offset + length > windowStarts.get(last) + windows.get(last).capacity()) {
            long span = Math.min(size - offset, Math.max(windowSize, length));
            windows.add(channel.map(FileChannel.MapMode.READ_ONLY, offset, span));
            windowStarts.add(offset);
            last++;
        }
        return windows.get(last).slice((int) (offset - windowStarts.get(last)), length);
    }

    public ImageHeader header() {
        return header;
    }

    /** Refuses a file in which bytes follow this image's END record. */
    public void requireAlone() throws ImageException {
        if (trailingBytes != null) {
            throw trailingBytes;
        }
    }

    public Path file() {
        return file;
    }

    public ImageObjects objects() {
        return new ImageObjects(file.toString(), objects);
    }

    public <T> List<T> objects(Class<T> type) {
        return objects().all(type);
    }

    public <T> T object(Class<T> type) throws ImageException {
        return objects().one(type);
    }

    public List<String> objectKinds() {
        return objects().kinds();
    }

    public List<PageRun> pageRuns() {
        return Collections.unmodifiableList(runs);
    }

    public ByteBuffer pageData(PageRun run) throws IOException {
        if (closed) {
            throw new IllegalStateException(file + " is closed");
        }
        int i = Arrays.binarySearch(runDataOffsets, 0, runs.size(), run.dataOffset());
        if (i < 0 || !runs.get(i).equals(run)) {
            throw new IllegalArgumentException(run + " is not a page run of " + file);
        }
        if (runPages[i] != null) {
            return runPages[i].asReadOnlyBuffer();
        }
        int w = runWindow[i];
        long at = run.dataOffset() - windowStarts.get(w);
        return windows.get(w).slice((int) at, (int) run.byteLength(header.pageSize())).asReadOnlyBuffer();
    }

    public long totalPageBytes() {
        return totalPageBytes;
    }

    public void requireCompatibleWith(ImageHeader here) throws ImageException {
        header.requireCompatibleWith(here, file.toString());
    }

    @Override
    public void close() throws IOException {
        closed = true;
        channel.close();
    }
}
