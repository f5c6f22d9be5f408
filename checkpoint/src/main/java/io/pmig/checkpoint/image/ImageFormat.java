package io.pmig.checkpoint.image;

final class ImageFormat {
    static final byte[] MAGIC = {'P', 'M', 'I', 'G', 'I', 'M', 'G', 0};
    static final int PREAMBLE_SIZE = 12;
    static final int FRAME_HEADER_SIZE = 8;
    static final int CRC_SIZE = 4;
    static final int FRAME_OVERHEAD = FRAME_HEADER_SIZE + CRC_SIZE;
    static final int PAGES_PREFIX_SIZE = 16;
    static final int MAX_PAGE_BYTES_PER_RECORD = 64 << 20;
    static final int MAX_PAYLOAD = MAX_PAGE_BYTES_PER_RECORD + PAGES_PREFIX_SIZE;
    /** Page data per record of an image that may compress: a run that does not shrink wastes little, one that does finds its repeats. */
    static final int COMPRESSED_RUN_BYTES = 1 << 20;

    static final int TYPE_HEADER = 1;
    static final int TYPE_OBJECT = 2;
    static final int TYPE_PAGES = 3;
    static final int TYPE_END = 4;

    static final int FLAG_PAGES_COMPRESSED = 0x01;

    static final String END_OBJECT_RECORDS = "objectRecords";
    static final String END_PAGES_RECORDS = "pagesRecords";
    static final String END_PAGE_BYTES = "pageBytes";

    private ImageFormat() {
    }

    static String typeName(int type) {
        return switch (type) {
            case TYPE_HEADER -> "HEADER";
            case TYPE_OBJECT -> "OBJECT";
            case TYPE_PAGES -> "PAGES";
            case TYPE_END -> "END";
            default -> "type " + type;
        };
    }

    static String aTypeName(int type) {
        return (type == TYPE_OBJECT || type == TYPE_END ? "an " : "a ") + typeName(type);
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
