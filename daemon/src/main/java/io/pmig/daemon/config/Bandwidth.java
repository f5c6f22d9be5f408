package io.pmig.daemon.config;

import java.util.Locale;

/**
 * The rate an outbound data stream may use ({@code PeerSession.openStream(header, bandwidth)}), so
 * that a migration leaves room for the node's other traffic; {@link #UNLIMITED} sends as fast as
 * the receiver reads. A megabyte is 10^6 bytes, as in the migration report's rates.
 *
 * @param bytesPerSecond the limit, 0 for none
 */
public record Bandwidth(long bytesPerSecond) {
    public static final Bandwidth UNLIMITED = new Bandwidth(0);
    /** Below this, even a small service's image would take minutes: more likely a unit mistake than a wish. */
    private static final double MIN_MEGABYTES_PER_SECOND = 1;

    public Bandwidth {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("a bandwidth limit cannot be negative: " + bytesPerSecond + " bytes/s");
        }
    }

    /** A limit in MB/s, 0 for none; anything below 1 MB/s, or not finite, is refused with the reason. */
    public static Bandwidth megabytesPerSecond(double megabytes) {
        if (megabytes == 0) {
            return UNLIMITED;
        }
        if (!(megabytes >= MIN_MEGABYTES_PER_SECOND) || Double.isInfinite(megabytes)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "a bandwidth limit of %s MB/s is not possible: it must be"
                    + " 0 (no limit) or at least %.0f MB/s", megabytes, MIN_MEGABYTES_PER_SECOND));
        }
        return new Bandwidth(Math.round(megabytes * 1e6));
    }

    public boolean limited() {
        return bytesPerSecond > 0;
    }

    /** The limit in MB/s, 0 for none. */
    public double megabytesPerSecond() {
        return bytesPerSecond / 1e6;
    }
}
