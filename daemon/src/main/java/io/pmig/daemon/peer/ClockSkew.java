package io.pmig.daemon.peer;

import java.time.Duration;
import java.time.Instant;

/**
 * How far a peer's realtime clock was from this node's when their session started: the peer's
 * reading from its hello ({@code there}) against this node's clock at the moment the peer read its
 * own ({@code here}: for the node that dialed, the middle of the round trip from its hello to the
 * answer; for the other, the arrival of the hello, off by the one-way delay). {@code uncertainty}: how far off that
 * moment may be, half the round trip for the node that dialed (a busy peer answering late makes it large), zero for
 * the other.
 */
public record ClockSkew(Instant here, Instant there, Duration uncertainty) {

    /** The peer's clock minus this node's: positive when the peer is ahead. */
    public Duration skew() {
        return Duration.between(here, there);
    }

    /** Whether the clocks disagree by more than {@code bound} for certain: beyond what the round trip leaves unknown. */
    public boolean exceeds(Duration bound) {
        return skew().abs().minus(uncertainty).compareTo(bound) > 0;
    }

    /** E.g. "node-b's clock read 2026-12-06T13:20:05.120Z when node-a's read 2026-12-06T13:20:01.100Z: 4.020 s ahead". */
    public String describe(String node, String peer) {
        Duration skew = skew();
        return peer + "'s clock read " + there + " when " + node + "'s read " + here + ": " + String.format("%.3f s", Math.abs(
            skew.toNanos()) / 1e9) + (skew.isNegative() ? " behind" : " ahead");
    }
}
