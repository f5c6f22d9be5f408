package io.pmig.daemon.log;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's structured log: one line per event, {@code event=NAME key=value ...}, values with
 * spaces or quotes in double quotes. slf4j-simple writes it to stderr (the journal under systemd)
 * with an ISO-8601 time and the level (daemon/src/main/resources/simplelogger.properties).
 */
public final class DaemonLog {
    private static final Logger LOG = LoggerFactory.getLogger("pmigd");

    private DaemonLog() {
    }

    public static void info(String event, Object... keyValues) {
        if (LOG.isInfoEnabled()) {
            LOG.info(line(event, keyValues));
        }
    }

    public static void warn(String event, Object... keyValues) {
        LOG.warn(line(event, keyValues));
    }

    /** "event=NAME k1=v1 k2="v 2"": keys and values alternate in {@code keyValues}. */
    public static String line(String event, Object... keyValues) {
        if (keyValues.length % 2 != 0) {
            throw new IllegalArgumentException("keys and values must alternate: " + keyValues.length + " items");
        }
        StringBuilder line = new StringBuilder("event=").append(event);
        for (int i = 0; i < keyValues.length; i += 2) {
            line.append(' ').append(keyValues[i]).append('=').append(quote(String.valueOf(keyValues[i + 1])));
        }
        return line.toString();
    }

    private static String quote(String value) {
        if (!value.isEmpty() && value.chars().noneMatch(c -> c == ' ' || c == '"' || c == '=' || c == '\\' || c < 0x20)) {
            return value;
        }
        StringBuilder quoted = new StringBuilder("\"");
        for (char c : value.toCharArray()) {
            switch (c) {
                case '"', '\\' -> quoted.append('\\').append(c);
                case '\n' -> quoted.append("\\n");
                default -> quoted.append(c < 0x20 ? ' ' : c);
            }
        }
        return quoted.append('"').toString();
    }
}
