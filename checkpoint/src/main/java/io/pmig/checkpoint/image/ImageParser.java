package io.pmig.checkpoint.image;

import static io.pmig.checkpoint.image.ImageFormat.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.image.ImageException.Reason;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Iterator;
import java.util.List;
import java.util.zip.CRC32C;

// The one place that knows what a valid image looks like. Readers only move bytes in and call these
// methods in stream order; the parser tracks offsets, record order and counts, and throws ImageException.
final class ImageParser {
    private final String source;
    private final CRC32C crc = new CRC32C();
    private final byte[] frameHeader = new byte[FRAME_HEADER_SIZE];
    private final PageRunIndex runs = new PageRunIndex();
    /** For compressed runs: made at the first, and the buffer they are decompressed into. */
    private ZstdCodec codec;
    private ByteBuffer inflated;

    private long offset;
    private int recordIndex;
    private int version;
    private ImageHeader header;
    private boolean ended;
    private long objectRecords;
    private long pagesRecords;
    private long pageBytes;

    private int type;
    private int flags;
    private int reserved;
    private int length;

    /** PAGES records whose CRC is not computed: authenticated otherwise (Image#openAuthenticated). */
    private final boolean pagesAuthenticated;

    ImageParser(String source) {
        this(source, false);
    }

    ImageParser(String source, boolean pagesAuthenticated) {
        this.source = source;
        this.pagesAuthenticated = pagesAuthenticated;
    }

    long offset() {
        return offset;
    }

    boolean ended() {
        return ended;
    }

    ImageHeader header() {
        return header;
    }

    long pageBytes() {
        return pageBytes;
    }

    // `available` holds every byte the input has up to PREAMBLE_SIZE; fewer means the input ended.
    void preamble(ByteBuffer available) throws ImageException {
        int n = Math.min(available.remaining(), PREAMBLE_SIZE);
        int p = available.position();
        for (int i = 0; i < Math.min(n, MAGIC.length); i++) {
            if (available.get(p + i) != MAGIC[i]) {
                throw new ImageException(Reason.FOREIGN, source, -1, 0,
                        "it does not start with the pmig image magic \"PMIGIMG\\0\" (first bytes: "
                                + hexBytes(available, p, Math.min(n, MAGIC.length)) + ")");
            }
        }
        if (n < PREAMBLE_SIZE) {
            throw new ImageException(Reason.TRUNCATED, source, -1, n,
                    n == 0 ? "the input is empty" : "the input ends after " + n + " bytes, inside the 12-byte preamble");
        }
        version = u16(available, p + 8);
        int preambleReserved = u16(available, p + 10);
        if (!ImageHeader.isReadableVersion(version)) {
            throw new ImageException(Reason.INCOMPATIBLE, source, -1, 8, "format version " + version
                    + " is not supported by this reader, which reads versions " + ImageHeader.FORMAT_VERSION + " and "
                    + ImageHeader.COMPRESSED_PAGES_VERSION);
        }
        if (preambleReserved != 0) {
            throw new ImageException(Reason.CORRUPT, source, -1, 10,
                    "the reserved preamble field is " + preambleReserved + " instead of 0");
        }
        offset = PREAMBLE_SIZE;
    }

    // Returns the payload length. bytesAfterHeader < 0 means the input length is unknown (a stream).
    int frameHeader(ByteBuffer eight, long bytesAfterHeader) throws ImageException {
        if (ended) {
            throw new IllegalStateException("no record may follow END");
        }
        int p = eight.position();
        for (int i = 0; i < FRAME_HEADER_SIZE; i++) {
            frameHeader[i] = eight.get(p + i);
        }
        type = frameHeader[0] & 0xff;
        flags = frameHeader[1] & 0xff;
        reserved = (frameHeader[2] & 0xff) | (frameHeader[3] & 0xff) << 8;
        long len = (frameHeader[4] & 0xffL) | (frameHeader[5] & 0xffL) << 8 | (frameHeader[6] & 0xffL) << 16
                | (frameHeader[7] & 0xffL) << 24;
        // Bound the length before anyone allocates or maps for it.
        if (len > MAX_PAYLOAD) {
            throw error(Reason.CORRUPT, "the frame declares a payload of " + len
                    + " bytes; the format allows at most " + MAX_PAYLOAD);
        }
        if (bytesAfterHeader >= 0 && len + CRC_SIZE > bytesAfterHeader) {
            throw error(Reason.TRUNCATED, "the frame declares " + len + " payload bytes plus a " + CRC_SIZE
                    + "-byte checksum, but only " + bytesAfterHeader + " bytes follow its frame header"
                    + " (or the length field is corrupt)");
        }
        length = (int) len;
        return length;
    }

    int frameType() {
        return type;
    }

    // Returns the OBJECT or PAGES record; null for HEADER and END, whose content the parser keeps.
    ImageRecord record(ByteBuffer payload, int storedCrc) throws ImageException {
        if (payload.remaining() != length) {
            throw new IllegalArgumentException("payload has " + payload.remaining() + " bytes, frame says " + length);
        }
        int computed = storedCrc;
        if (!(pagesAuthenticated && type == TYPE_PAGES)) {
            crc.reset();
            crc.update(frameHeader, 0, FRAME_HEADER_SIZE);
            crc.update(payload.duplicate());
            computed = (int) crc.getValue();
        }
        if (computed != storedCrc) {
            throw error(Reason.CORRUPT, "CRC32C mismatch: the record stores " + hex(Integer.toUnsignedLong(storedCrc))
                    + " but its bytes hash to " + hex(Integer.toUnsignedLong(computed)));
        }
        if (type < TYPE_HEADER || type > TYPE_END) {
            throw error(Reason.CORRUPT, "unknown record type " + type + " (this reader knows types 1 HEADER,"
                    + " 2 OBJECT, 3 PAGES and 4 END; written by a newer pmig?)");
        }
        checkFlags();
        if (reserved != 0) {
            throw error(Reason.CORRUPT, "the reserved frame field of " + aTypeName(type) + " record is "
                    + reserved + " instead of 0");
        }
        if (header == null && type != TYPE_HEADER) {
            throw error(Reason.CORRUPT, "the first record is " + typeName(type) + "; an image must begin with a HEADER record");
        }
        if (header != null && type == TYPE_HEADER) {
            throw error(Reason.CORRUPT, "a second HEADER record; an image has exactly one");
        }
        ImageRecord result = switch (type) {
            case TYPE_HEADER -> {
                header = parseHeader(payload);
                yield null;
            }
            case TYPE_OBJECT -> parseObject(payload);
            case TYPE_PAGES -> parsePages(payload);
            default -> {
                parseEnd(payload);
                yield null;
            }
        };
        offset += FRAME_OVERHEAD + length;
        recordIndex++;
        return result;
    }

    void endOfInput() throws ImageException {
        if (!ended) {
            throw new ImageException(Reason.TRUNCATED, source, recordIndex, offset, header == null
                    ? "the input ends after the preamble, before the HEADER record"
                    : "the input ends after " + recordIndex + " records without an END record");
        }
    }

    void truncatedFrameHeader(long bytesLeft) throws ImageException {
        throw error(Reason.TRUNCATED, "the input ends " + bytesLeft + " bytes into the " + FRAME_HEADER_SIZE
                + "-byte frame header" + (ended ? "" : "; no END record was seen"));
    }

    void truncatedRecord(long bytesRead) throws ImageException {
        throw error(Reason.TRUNCATED, "the input ends " + bytesRead + " bytes into the "
                + (length + CRC_SIZE) + " bytes of payload and checksum of " + aTypeName(type) + " frame");
    }

    void trailingBytes(long count) throws ImageException {
        throw new ImageException(Reason.CORRUPT, source, -1, offset,
                count + " bytes follow the END record; END must be the last record");
    }

    private void checkFlags() throws ImageException {
        int known = type == TYPE_PAGES ? FLAG_PAGES_COMPRESSED : 0;
        int unknown = flags & ~known;
        if (unknown != 0) {
            throw error(Reason.CORRUPT, "unknown flag bits " + hex(unknown) + " on " + aTypeName(type)
                    + " record (written by a newer pmig?)");
        }
        if ((flags & FLAG_PAGES_COMPRESSED) != 0 && version < ImageHeader.COMPRESSED_PAGES_VERSION) {
            throw error(Reason.CORRUPT, "compressed page data in an image of format version " + version
                    + "; compressed runs come with version " + ImageHeader.COMPRESSED_PAGES_VERSION);
        }
    }

    private ImageHeader parseHeader(ByteBuffer payload) throws ImageException {
        ObjectNode node = jsonObject(payload, "HEADER");
        ImageHeader parsed;
        try {
            parsed = ImageJson.MAPPER.treeToValue(node, ImageHeader.class);
        } catch (Exception e) {
            throw error(Reason.CORRUPT, "the HEADER record is not a valid image header: " + ImageJson.describe(e));
        }
        List<String> problems = parsed.problemsAsHeader(version);
        if (!problems.isEmpty()) {
            throw error(Reason.CORRUPT, "the HEADER record is not a valid image header: " + String.join("; ", problems));
        }
        return parsed;
    }

    private ImageRecord.ObjectRecord parseObject(ByteBuffer payload) throws ImageException {
        ObjectNode node = jsonObject(payload, "OBJECT");
        JsonNode kind = node.remove("kind");
        if (kind == null || !kind.isTextual() || kind.textValue().isEmpty()) {
            throw error(Reason.CORRUPT, "the OBJECT record has no \"kind\" string");
        }
        objectRecords++;
        return new ImageRecord.ObjectRecord(source, recordIndex, offset, kind.textValue(), node);
    }

    private ImageRecord.Pages parsePages(ByteBuffer payload) throws ImageException {
        if (length < PAGES_PREFIX_SIZE) {
            throw error(Reason.CORRUPT, "the PAGES payload has " + length + " bytes, less than its "
                    + PAGES_PREFIX_SIZE + "-byte run header");
        }
        ByteBuffer le = payload.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int p = le.position();
        long address = le.getLong(p);
        long count = Integer.toUnsignedLong(le.getInt(p + 8));
        boolean compressed = (flags & FLAG_PAGES_COMPRESSED) != 0;
        int codec = compressed ? le.get(p + 12) & 0xff : 0;
        int runReserved = le.getInt(p + 12) & (compressed ? 0xffffff00 : 0xffffffff);
        int pageSize = header.pageSize();
        long storedBytes = length - PAGES_PREFIX_SIZE;
        long dataBytes = compressed ? count * pageSize : storedBytes;
        if (runReserved != 0) {
            throw error(Reason.CORRUPT, "the reserved field of the PAGES run header is " + Integer.toUnsignedLong(runReserved)
                    + " instead of 0");
        }
        if (count == 0) {
            throw error(Reason.CORRUPT, "the PAGES record holds no pages");
        }
        if (compressed && dataBytes > MAX_PAGE_BYTES_PER_RECORD) {
            throw error(Reason.CORRUPT, "the compressed PAGES record declares " + count + " pages of " + pageSize
                    + " bytes; a record holds at most " + MAX_PAGE_BYTES_PER_RECORD + " bytes of page data");
        }
        if (compressed && codec != ZstdCodec.ID) {
            throw error(Reason.INCOMPATIBLE, "the PAGES record is compressed with page codec " + codec
                    + ", which this reader does not know (it knows " + ZstdCodec.ID + ", " + ZstdCodec.NAME + ")");
        }
        if (!compressed && count * pageSize != dataBytes) {
            throw error(Reason.CORRUPT, "the PAGES record declares " + count + " pages of " + pageSize
                    + " bytes but carries " + dataBytes + " bytes of page data");
        }
        if (address % pageSize != 0) {
            throw error(Reason.CORRUPT, "the PAGES address " + hex(address) + " is not aligned to the page size " + pageSize);
        }
        if (PageRunIndex.wraps(address, dataBytes)) {
            throw error(Reason.CORRUPT, "the PAGES run at " + hex(address) + " of " + dataBytes
                    + " bytes runs past the end of the address space");
        }
        long end = address + dataBytes;
        long[] other = runs.overlapping(address, end);
        if (other != null) {
            throw error(Reason.CORRUPT, "the PAGES run " + hex(address) + "-" + hex(end) + " overlaps the earlier run "
                    + hex(other[0]) + "-" + hex(other[1]) + "; every page may be stored only once");
        }
        ByteBuffer stored = payload.slice(payload.position() + PAGES_PREFIX_SIZE, (int) storedBytes);
        ByteBuffer data = compressed ? decompress(stored, (int) dataBytes) : stored;
        runs.add(address, end);
        pagesRecords++;
        pageBytes += dataBytes;
        return new ImageRecord.Pages(recordIndex, offset, address, (int) count, data.asReadOnlyBuffer(), compressed);
    }

    // Into the parser's buffer, valid until the next record: exactly `bytes`, or the record is corrupt.
    private ByteBuffer decompress(ByteBuffer stored, int bytes) throws ImageException {
        String unavailable = ZstdCodec.unavailable();
        if (unavailable != null) {
            throw error(Reason.INCOMPATIBLE, "the PAGES record is compressed and this host cannot decompress it: " + unavailable);
        }
        if (codec == null) {
            codec = new ZstdCodec();
        }
        if (inflated == null || inflated.capacity() < bytes) {
            inflated = ByteBuffer.allocateDirect(Math.max(bytes, COMPRESSED_RUN_BYTES));
        }
        ByteBuffer source = stored;
        if (!stored.isDirect()) {
            source = ByteBuffer.allocateDirect(stored.remaining()).put(stored.duplicate()).flip();
        }
        int n;
        try {
            n = codec.decompress(source, inflated, bytes);
        } catch (RuntimeException e) {
            throw error(Reason.CORRUPT, "the compressed page data does not decompress: " + e.getMessage());
        }
        if (n != bytes) {
            throw error(Reason.CORRUPT, "the compressed page data decompresses to " + (n < 0 ? "more than " + bytes : n)
                    + " bytes, not the " + bytes + " bytes of its " + bytes / header.pageSize() + " pages");
        }
        return inflated.slice(0, bytes);
    }

    private void parseEnd(ByteBuffer payload) throws ImageException {
        ObjectNode node = jsonObject(payload, "END");
        long[] declared = new long[3];
        String[] names = {END_OBJECT_RECORDS, END_PAGES_RECORDS, END_PAGE_BYTES};
        for (int i = 0; i < names.length; i++) {
            JsonNode v = node.get(names[i]);
            if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw error(Reason.CORRUPT, "the END record lacks a non-negative integer \"" + names[i] + "\"");
            }
            declared[i] = v.longValue();
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!List.of(names).contains(name)) {
                throw error(Reason.CORRUPT, "the END record has an unknown field \"" + name + "\"");
            }
        }
        if (declared[0] != objectRecords || declared[1] != pagesRecords || declared[2] != pageBytes) {
            throw error(Reason.CORRUPT, "the END record counts " + counts(declared[0], declared[1], declared[2])
                    + ", but the image holds " + counts(objectRecords, pagesRecords, pageBytes)
                    + ": records were lost or added");
        }
        ended = true;
    }

    private static String counts(long objects, long pages, long bytes) {
        return objects + " OBJECT records, " + pages + " PAGES records and " + bytes + " page bytes";
    }

    private ObjectNode jsonObject(ByteBuffer payload, String what) throws ImageException {
        byte[] bytes = new byte[payload.remaining()];
        payload.duplicate().get(bytes);
        JsonNode node;
        try {
            node = ImageJson.MAPPER.readTree(bytes);
        } catch (Exception | StackOverflowError e) {
            throw error(Reason.CORRUPT, "the " + what + " payload is not valid JSON: " + ImageJson.describe(e));
        }
        if (!(node instanceof ObjectNode object)) {
            throw error(Reason.CORRUPT, "the " + what + " payload is not a JSON object");
        }
        return object;
    }

    private ImageException error(Reason reason, String detail) {
        return new ImageException(reason, source, recordIndex, offset, detail);
    }

    private static int u16(ByteBuffer b, int at) {
        return (b.get(at) & 0xff) | (b.get(at + 1) & 0xff) << 8;
    }

    private static String hexBytes(ByteBuffer b, int from, int n) {
        if (n == 0) {
            return "none";
        }
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) {
            s.append(i == 0 ? "" : " ").append(String.format("%02x", b.get(from + i) & 0xff));
        }
        return s.toString();
    }
}
