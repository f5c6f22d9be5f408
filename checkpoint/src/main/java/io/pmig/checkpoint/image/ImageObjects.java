package io.pmig.checkpoint.image;

import io.pmig.checkpoint.image.ImageException.Reason;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** The OBJECT records of one image, in image order, looked up by the record class of their kind. */
public final class ImageObjects {
    private final String source;
    private final List<ImageRecord.ObjectRecord> records;

    public ImageObjects(String source, List<ImageRecord.ObjectRecord> records) {
        this.source = source;
        this.records = List.copyOf(records);
    }

    /** Every object of {@code type}'s kind, in image order. */
    public <T> List<T> all(Class<T> type) {
        String kind = ImageJson.kindOf(type);
        List<T> out = new ArrayList<>();
        for (ImageRecord.ObjectRecord object : records) {
            if (object.kind().equals(kind)) {
                try {
                    out.add(object.as(type));
                } catch (ImageException e) {
                    // declared without checked exceptions for the many callers; the ImageException stays the cause
                    throw new UncheckedIOException(e);
                }
            }
        }
        return out;
    }

    /** The one object of {@code type}'s kind; refuses an image with none or several. */
    public <T> T one(Class<T> type) throws ImageException {
        String kind = ImageJson.kindOf(type);
        ImageRecord.ObjectRecord found = null;
        int count = 0;
        for (ImageRecord.ObjectRecord object : records) {
            if (object.kind().equals(kind)) {
                found = object;
                count++;
            }
        }
        if (count != 1) {
            throw new ImageException(Reason.CORRUPT, source, "the image holds " + count
                    + " OBJECT records of kind '" + kind + "' where exactly one is required");
        }
        return found.as(type);
    }

    public List<String> kinds() {
        return records.stream().map(ImageRecord.ObjectRecord::kind).distinct().toList();
    }
}
