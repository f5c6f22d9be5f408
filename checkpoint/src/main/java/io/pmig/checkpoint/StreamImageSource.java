package io.pmig.checkpoint;

import io.pmig.checkpoint.image.ImageException;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.image.ImageRecord;
import io.pmig.checkpoint.image.ImageStreamReader;
import io.pmig.checkpoint.memory.InheritedPages;
import io.pmig.checkpoint.memory.MemoryRestorer;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.nativeio.NativeMemory;

import java.io.IOException;
import java.nio.channels.ReadableByteChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * An image read from a channel record by record: the objects when opened (up to the first PAGES
 * record, which the checkpoint engine writes after every object), then each run of pages written into
 * the process as it arrives, checked (CRC) before it is written; the END record's counts last.
 */
final class StreamImageSource implements ImageSource {
    private final ReadableByteChannel in;
    private final ImageStreamReader reader;
    private final String name;
    private final ImageObjects objects;
    private ImageRecord.Pages firstPages;

    private StreamImageSource(ReadableByteChannel in, ImageStreamReader reader, String name, ImageObjects objects,
                              ImageRecord.Pages firstPages) {
        this.in = in;
        this.reader = reader;
        this.name = name;
        this.objects = objects;
        this.firstPages = firstPages;
    }

    /** Reads and checks the preamble, HEADER and every OBJECT record; the channel stays the caller's. */
    static StreamImageSource open(ReadableByteChannel in, String name) throws IOException {
        ImageStreamReader reader = ImageStreamReader.open(in, name);
        List<ImageRecord.ObjectRecord> objects = new ArrayList<>();
        ImageRecord record;
        while ((record = reader.next()) instanceof ImageRecord.ObjectRecord object) {
            objects.add(object);
        }
        return new StreamImageSource(in, reader, name, new ImageObjects(name, objects), (ImageRecord.Pages) record);
    }

    /** The image after this one's END record, on the same channel. */
    @Override
    public ImageSource next() throws IOException {
        return open(in, name);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public ImageHeader header() {
        return reader.header();
    }

    @Override
    public void requireCompatibleWith(ImageHeader here) throws ImageException {
        reader.requireCompatibleWith(here);
    }

    @Override
    public ImageObjects objects() {
        return objects;
    }

    @Override
    public void awaitAuthenticObjects() {
    }

    @Override
    public long writePages(Puppet puppet) throws IOException {
        NativeMemory iov = NativeMemory.allocate(32);
        return readPages((address, data) -> MemoryRestorer.writeRun(puppet, address, data, iov));
    }

    @Override
    public long writePages(InheritedPages child) throws IOException {
        return readPages(child::write);
    }

    /** Reads the pages to the END record without writing them anywhere (an image looked at, not restored). */
    long skipPages() throws IOException {
        return readPages((address, data) -> { });
    }

    private interface PageSink {
        void accept(long address, java.nio.ByteBuffer data);
    }

    private long readPages(PageSink sink) throws IOException {
        long total = 0;
        ImageRecord record = firstPages;
        firstPages = null;
        while (record != null) {
            if (!(record instanceof ImageRecord.Pages pages)) {
                throw new ImageException(ImageException.Reason.CORRUPT, name, record.recordIndex(), record.offset(),
                    "an OBJECT record after PAGES records; a restore from a stream needs every object before the first page");
            }
            sink.accept(pages.address(), pages.data());
            total += pages.data().remaining();
            record = reader.next();
        }
        return total;
    }
}
