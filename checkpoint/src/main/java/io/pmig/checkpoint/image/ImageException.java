package io.pmig.checkpoint.image;

import java.io.IOException;

public class ImageException extends IOException {
    private static final long serialVersionUID = 1L;


    public enum Reason {
        CORRUPT("image is corrupt"),
        TRUNCATED("image is truncated"),
        FOREIGN("not a pmig image"),
        INCOMPATIBLE("image is incompatible");

        private final String phrase;

        Reason(String phrase) {
            this.phrase = phrase;
        }

        public String phrase() {
            return phrase;
        }
    }

    private final Reason reason;
    private final String source;
    private final int recordIndex;
    private final long offset;
    private final String detail;

    public ImageException(Reason reason, String source, int recordIndex, long offset, String detail) {
        super(format(reason, source, recordIndex, offset, detail));
        this.reason = reason;
        this.source = source;
        this.recordIndex = recordIndex;
        this.offset = offset;
        this.detail = detail;
    }

    public ImageException(Reason reason, String source, String detail) {
        this(reason, source, -1, -1, detail);
    }

    public Reason reason() {
        return reason;
    }

    public String source() {
        return source;
    }

    public int recordIndex() {
        return recordIndex;
    }

    public long offset() {
        return offset;
    }

    public String detail() {
        return detail;
    }

    private static String format(Reason reason, String source, int recordIndex, long offset, String detail) {
        StringBuilder s = new StringBuilder();
        s.append(source).append(": ").append(reason.phrase());
        if (recordIndex >= 0 && offset >= 0) {
            s.append(" (record #").append(recordIndex).append(" at byte offset ").append(offset).append(')');
        } else if (offset >= 0) {
            s.append(" (at byte offset ").append(offset).append(')');
        }
        return s.append(": ").append(detail).toString();
    }
}
