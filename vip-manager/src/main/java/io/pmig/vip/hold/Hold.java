package io.pmig.vip.hold;

import java.net.InetAddress;
import java.time.Instant;
import java.util.List;

/**
 * One VIP's hold on one node: while on, inbound packets to the VIP are dropped before the stack
 * sees them and kept in a bounded buffer. Capture starts before the drop rule and stops after
 * it, so every dropped packet is kept (within the limits). Not thread-safe: one caller at a time.
 */
public final class Hold implements AutoCloseable {
    private final HoldRules rules;
    private final InetAddress vip;
    private final HoldBuffer buffer;
    private final PacketCapture capture;
    private boolean on;

    private Hold(HoldRules rules, InetAddress vip, HoldBuffer buffer, PacketCapture capture) {
        this.rules = rules;
        this.vip = vip;
        this.buffer = buffer;
        this.capture = capture;
    }

    /** Opens the capture (not yet started): nothing changes for the VIP's packets until {@link #on}. */
    public static Hold open(HoldRules rules, String iface, InetAddress vip, HoldLimits limits) {
        HoldBuffer buffer = new HoldBuffer(vip.getHostAddress() + " on " + iface, limits);
        return new Hold(rules, vip, buffer, PacketCapture.open(iface, vip, buffer));
    }

    public boolean isOn() {
        return on;
    }

    /** Starts holding; already on: nothing to do. */
    public void on() {
        if (!on) {
            capture.start();
            rules.hold(vip);
            on = true;
        }
    }

    /** What was held since the last take, oldest first; holding goes on. */
    public List<HeldPacket> take() {
        return buffer.drain();
    }

    /**
     * Stops holding; returns what was held since the last take that the stack did not also get
     * (a packet that came while the rule was being switched off may be in both: harmless for
     * TCP, which drops the copy). Already off: an empty list.
     */
    public List<HeldPacket> off() {
        if (!on) {
            return List.of();
        }
        rules.release(vip);
        Instant released = Instant.now();
        long releasedAt = released.getEpochSecond() * 1_000_000_000L + released.getNano();
        capture.stop();
        on = false;
        return buffer.drain().stream().filter(p -> p.arrivedAtEpochNanos() <= releasedAt).toList();
    }

    /** Packets kept since the hold began. */
    public long kept() {
        return buffer.kept();
    }

    /** Packets dropped but not kept because a limit was reached. */
    public long overflowed() {
        return buffer.overflowed();
    }

    /** Stops holding if on (what was held is dropped) and closes the capture. */
    @Override
    public void close() {
        try {
            off();
        } finally {
            capture.close();
        }
    }
}
