package io.pmig.cli;

import java.util.Locale;

/** Human-readable sizes, durations and rates for the text output. */
final class Units {
    private static final double KIB = 1024;
    private static final double MIB = KIB * 1024;
    private static final double GIB = MIB * 1024;

    private Units() {
    }

    static String bytes(long bytes) {
        if (bytes < KIB) {
            return bytes + " B";
        }
        if (bytes < MIB) {
            return format("%.1f KiB", bytes / KIB);
        }
        if (bytes < GIB) {
            return format("%.1f MiB", bytes / MIB);
        }
        return format("%.2f GiB", bytes / GIB);
    }

    static String duration(long nanos) {
        double ms = nanos / 1e6;
        if (ms < 10) {
            return format("%.2f ms", ms);
        }
        if (ms < 1000) {
            return format("%.1f ms", ms);
        }
        return format("%.2f s", ms / 1000);
    }

    /** Bytes per second, 0 when no time was measured. */
    static long bytesPerSecond(long bytes, long nanos) {
        return nanos <= 0 ? 0 : Math.round(bytes * 1e9 / nanos);
    }

    static String rate(long bytesPerSecond) {
        return bytesPerSecond < GIB
                ? format("%.1f MiB/s", bytesPerSecond / MIB)
                : format("%.2f GiB/s", bytesPerSecond / GIB);
    }

    private static String format(String pattern, double value) {
        return String.format(Locale.ROOT, pattern, value);
    }
}
