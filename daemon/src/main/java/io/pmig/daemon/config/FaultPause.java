package io.pmig.daemon.config;

import io.pmig.daemon.log.DaemonLog;
import java.util.Arrays;
import java.util.Locale;

/**
 * For fault tests, in the way of CRIU's fault injection: a migration step at which this daemon
 * pauses, so that a test can cut the network or kill a daemon at exactly that step. Off unless
 * {@code debug.pause.at} names a step.
 */
public record FaultPause(Point point, int millis) {
    public static final FaultPause NONE = new FaultPause(null, 0);

    /** The steps a daemon can pause at, each on the node where it happens. */
    public enum Point {
        /** Source: after the first pre-copy round, the process still running. */
        PRE_COPY,
        /** Source: the process frozen, before the last part of its image is sent. */
        FROZEN,
        /** Destination: restored, in the go-live hook, before it takes the VIP's switch (asked of the source as a staged move's last part began, else now). */
        SWITCH,
        /** Source: the destination restored the copy; before the commit is sent. */
        COMMIT,
        /** Destination: the copy runs; before the commit is answered. */
        COMMIT_ANSWER,
        /** Source: committed; before the first packets from stale caches go to the destination. */
        SETTLE,
        /**
         * Source, post-copy: the copy runs with pages of it still here, before they are pushed (with this pause the push
         * waits for the copy to run; requests are answered until then, none during the pause).
         */
        POSTCOPY;

        /** As written in the configuration: pre-copy, frozen, switch, commit, commit-answer, settle, postcopy. */
        public String key() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        static Point of(String key) {
            return Arrays.stream(values()).filter(p -> p.key().equals(key)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("it must be one of " + String.join(", ", keys())));
        }

        static String[] keys() {
            return Arrays.stream(values()).map(Point::key).toArray(String[]::new);
        }
    }

    /** Pauses here if this is the configured step; the log line tells a test that the pause began. */
    public void pauseAt(Point p) {
        if (point != p) {
            return;
        }
        DaemonLog.warn("fault-pause", "at", p.key(), "millis", millis);
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
