package io.pmig.checkpoint.image;

import java.util.Locale;

/**
 * Whether, and when, the image writers of one stream compress their page runs (image-format.md,
 * "Compressed page runs"), and what it did, for the report. One object serves every image sent on a
 * stream (the rounds of a pre-copy and the last part), so what it learnt of the link and of the pages
 * carries over. Not for use by several threads at once.
 *
 * <p>{@link Mode#AUTO} compresses when the link is the bottleneck: with the link's rate {@code L} (the
 * stream's bandwidth limit, else measured from the writes so far), the compressor's rate {@code C} and
 * the share {@code s} of bytes it saves (both measured on the runs it tried), compressing a run costs
 * {@code 1/C} per byte and saves {@code s/L} of sending; it is done when it costs at most half what it
 * saves, {@code 2L < C·s}: the other half is left for what the estimate does not see, the destination's
 * decompression and the CPU the stream's encryption needs too (on one host, a lab, the cores are
 * shared: a bare {@code L < C·s} cost a 1 GB/s loopback link 28 % more time). While it does not pay, one run
 * in {@link #PROBE_EVERY} is still tried, so memory that becomes compressible is noticed. Whatever the
 * mode, a run that does not shrink by {@link #MIN_SAVING_EIGHTHS}/8 is sent raw.
 */
public final class PageCompression {
    /** How the migrate option reads. */
    public enum Mode {
        OFF, ON, AUTO;

        public static Mode parse(String text) {
            try {
                return valueOf(text.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("compression '" + text + "' is none of auto, on and off");
            }
        }

        public String text() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final int MIN_SAVING_EIGHTHS = 1;
    static final int PROBE_EVERY = 16;
    /** Writes measured before the link's rate is believed (socket and stream buffers absorb the first ones). */
    private static final long LINK_MEASURE_BYTES = 16L << 20;
    /** Measurements halve past this much raw data, so the estimates follow memory whose nature changes. */
    private static final long DECAY_BYTES = 64L << 20;

    private final Mode mode;
    private long linkLimit;
    private long linkBytes;
    private long linkNanos;
    private long triedRaw;
    private long triedStored;
    private long triedNanos;
    private long sinceProbe;
    // totals, for the report
    private long rawBytes;
    private long storedBytes;
    private long runsCompressed;
    private long runsRaw;

    /** {@code linkLimit}: the stream's bandwidth limit in bytes/s, 0 for none. */
    public PageCompression(Mode mode, long linkLimit) {
        this.mode = mode;
        this.linkLimit = linkLimit;
    }

    public static PageCompression off() {
        return new PageCompression(Mode.OFF, 0);
    }

    /** Null when this host can compress and decompress pages, else why not (zstd's native library does not load). */
    public static String unavailable() {
        return ZstdCodec.unavailable();
    }

    /** The codec compressed runs use, as named in the peer protocol. */
    public static String codecName() {
        return ZstdCodec.NAME;
    }

    public Mode mode() {
        return mode;
    }

    /** The stream keeps to another limit from now on (0: none): what was measured of the link no longer holds. */
    public void linkLimit(long bytesPerSecond) {
        linkLimit = bytesPerSecond;
        linkBytes = 0;
        linkNanos = 0;
    }

    /** Whether any run was stored compressed. */
    public boolean ran() {
        return runsCompressed > 0;
    }

    /** Page bytes before compression over page bytes as sent, every run counted (1 when none was compressed). */
    public double ratio() {
        return storedBytes == 0 ? 1 : (double) rawBytes / storedBytes;
    }

    public long rawBytes() {
        return rawBytes;
    }

    public long storedBytes() {
        return storedBytes;
    }

    public long runsCompressed() {
        return runsCompressed;
    }

    public long runsRaw() {
        return runsRaw;
    }

    /** Images written under it may hold compressed runs: they are of format version 2. */
    boolean enabled() {
        return mode != Mode.OFF;
    }

    /** Whether to try compressing the next run. */
    boolean shouldTry() {
        if (mode != Mode.AUTO) {
            return mode == Mode.ON;
        }
        double link = linkBytesPerSecond();
        if (link == 0) {
            return false;   // not measured yet: the link may well be fast
        }
        if (triedRaw == 0 || pays(link)) {
            return true;
        }
        return ++sinceProbe % PROBE_EVERY == 0;
    }

    /** 2L < C·s, in bytes per second. */
    private boolean pays(double link) {
        double compressorRate = triedRaw * 1e9 / Math.max(1, triedNanos);
        double saved = 1 - (double) triedStored / triedRaw;
        return 2 * link < compressorRate * saved;
    }

    private double linkBytesPerSecond() {
        if (linkLimit > 0) {
            return linkLimit;
        }
        return linkBytes < LINK_MEASURE_BYTES ? 0 : linkBytes * 1e9 / Math.max(1, linkNanos);
    }

    /** A run of {@code raw} bytes was tried in {@code nanos} and went out as {@code stored} bytes (raw when it did not shrink). */
    void tried(long raw, long stored, long nanos) {
        triedRaw += raw;
        triedStored += stored;
        triedNanos += nanos;
        if (triedRaw > DECAY_BYTES) {
            triedRaw /= 2;
            triedStored /= 2;
            triedNanos /= 2;
        }
        counted(raw, stored);
    }

    /** A run of {@code raw} bytes went out (compressed to {@code stored} bytes, or raw when they are equal). */
    void counted(long raw, long stored) {
        rawBytes += raw;
        storedBytes += stored;
        if (stored < raw) {
            runsCompressed++;
        } else {
            runsRaw++;
        }
    }

    /** The writer's channel took {@code bytes} in {@code nanos}: the link's measure. */
    void sent(long bytes, long nanos) {
        linkBytes += bytes;
        linkNanos += nanos;
        if (linkBytes > DECAY_BYTES) {
            linkBytes /= 2;
            linkNanos /= 2;
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s: %d of %d runs compressed, %d bytes of pages sent as %d (%.2fx)", mode.text(),
            runsCompressed, runsCompressed + runsRaw, rawBytes, storedBytes, ratio());
    }
}
