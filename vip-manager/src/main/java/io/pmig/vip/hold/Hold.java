package io.pmig.vip.hold;

import java.net.InetAddress;
import java.util.List;

/**
 * One VIP's hold on one node: while on, inbound packets to the VIP are dropped before the stack
 * sees them and kept in a bounded buffer, exactly those (see {@link HoldCapture}). Not
 * thread-safe: one caller at a time.
 */
public final class Hold implements AutoCloseable {
    private final HoldRules rules;
    private final InetAddress vip;
    private final HoldBuffer buffer;
    private final HoldCapture capture;
    private boolean on;
    private boolean all;

    /** A hold of {@code vip}'s packets, not yet on: nothing changes for them until {@link #on}. */
    public Hold(HoldRules rules, HoldCapture capture, InetAddress vip, HoldLimits limits) {
        this.rules = rules;
        this.vip = vip;
        this.buffer = new HoldBuffer(vip.getHostAddress(), limits);
        this.capture = capture;
    }

    /** Whether anything is held: every packet, or new connections only. */
    public boolean isOn() {
        return on;
    }

    /** Starts holding every packet; already on: nothing to do. */
    public void on() {
        if (!all) {
            capture.register(vip, buffer);
            rules.hold(vip);
            on = true;
            all = true;
        }
    }

    /**
     * Starts holding new TCP connection attempts (SYN without ACK) only, into the same buffer: what else
     * arrives still reaches the stack, so handshakes under way complete. {@link #on} then holds the rest too.
     */
    public void onForNewConnections() {
        if (!on) {
            capture.register(vip, buffer);
            rules.holdNewConnections(vip);
            on = true;
        }
    }

    /** What was held since the last take, oldest first; holding goes on. */
    public List<HeldPacket> take() {
        return buffer.drain();
    }

    /** Like {@link #take}, and including every packet the rules dropped before this call; holding goes on. */
    public List<HeldPacket> takeCaptured() {
        capture.flush();
        return buffer.drain();
    }

    /** Stops holding; returns what was held since the last take. Already off: an empty list. */
    public List<HeldPacket> off() {
        if (!on) {
            return List.of();
        }
        rules.release(vip);
        capture.flush();
        capture.unregister(vip);
        on = false;
        all = false;
        return buffer.drain();
    }

    /** Packets kept since the hold began. */
    public long kept() {
        return buffer.kept();
    }

    /** Packets dropped but not kept because a limit was reached. */
    public long overflowed() {
        return buffer.overflowed();
    }

    /** Stops holding if on; what was held is dropped. */
    @Override
    public void close() {
        off();
    }
}
