package io.pmig.checkpoint.image;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;

public sealed interface ImageRecord permits ImageRecord.ObjectRecord, ImageRecord.Pages {

    int recordIndex();

    long offset();

    final class ObjectRecord implements ImageRecord {
        private final String source;
        private final int recordIndex;
        private final long offset;
        private final String kind;
        private final ObjectNode fields;
        /** What {@link #as} made of the fields: a restore asks for the same objects many times (pre-checks, then the build). */
        private volatile Object decoded;

        ObjectRecord(String source, int recordIndex, long offset, String kind, ObjectNode fields) {
            this.source = source;
            this.recordIndex = recordIndex;
            this.offset = offset;
            this.kind = kind;
            this.fields = fields;
        }

        @Override
        public int recordIndex() {
            return recordIndex;
        }

        @Override
        public long offset() {
            return offset;
        }

        public String kind() {
            return kind;
        }

        public boolean is(Class<?> type) {
            return kind.equals(ImageJson.kindOf(type));
        }

        public <T> T as(Class<T> type) throws ImageException {
            String wanted = ImageJson.kindOf(type);
            if (!kind.equals(wanted)) {
                throw new IllegalArgumentException("OBJECT record #" + recordIndex + " is of kind '" + kind
                        + "', not '" + wanted + "' (" + type.getName() + ")");
            }
            Object cached = decoded;
            if (type.isInstance(cached)) {
                return type.cast(cached);
            }
            try {
                T value = ImageJson.MAPPER.treeToValue(fields, type);
                decoded = value;
                return value;
            } catch (Exception e) {
                // The image is intact (its CRC matched); its fields just do not fit this build's record.
                throw new ImageException(ImageException.Reason.INCOMPATIBLE, source, recordIndex, offset,
                        "OBJECT of kind '" + kind + "' does not fit " + type.getName()
                                + " (written by a different pmig version?): " + ImageJson.describe(e));
            }
        }

        @Override
        public String toString() {
            ObjectNode all = ImageJson.MAPPER.createObjectNode();
            all.put("kind", kind);
            all.setAll(fields);
            return "OBJECT #" + recordIndex + " " + all;
        }
    }

    /** {@code data}: the pages, decompressed when the record is {@code compressed}. */
    record Pages(int recordIndex, long offset, long address, int pageCount, ByteBuffer data, boolean compressed) implements ImageRecord {
    }
}
