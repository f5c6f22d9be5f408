package io.pmig.vip.hold;

import java.net.InetAddress;
import java.util.List;
import java.util.function.Consumer;

/**
 * The hold through upstream interfaces: while on, an nftables rule drops the VIP's inbound packets
 * before the stack sees them and logs them to NFLOG, and {@link HoldCapture} keeps exactly those
 * in a bounded buffer; what is released goes back in through the replay device. Not thread-safe:
 * one caller at a time.
 */
public final class CapturedHold implements Hold {
    /** At most this many catch-up rounds before a hold ends: a flow that never pauses must not keep it on. */
    private static final int CATCH_UP_ROUNDS = 8;

    private final HoldRules rules;
    private final InetAddress vip;
    private final HoldBuffer buffer;
    private final HoldCapture capture;
    private boolean on;
    private boolean all;

    /** A hold of {@code vip}'s packets, not yet on: nothing changes for them until {@link #on}. */
    public CapturedHold(HoldRules rules, HoldCapture capture, InetAddress vip, HoldLimits limits) {
        this.rules = rules;
        this.vip = vip;
        this.buffer = new HoldBuffer(vip.getHostAddress(), limits);
        this.capture = capture;
    }

    @Override
    public boolean isOn() {
        return on;
    }

    @Override
    public void on() {
        if (!all) {
            capture.register(vip, buffer);
            rules.hold(vip);
            on = true;
            all = true;
        }
    }

    @Override
    public void onForNewConnections() {
        if (!on) {
            capture.register(vip, buffer);
            rules.holdNewConnections(vip);
            on = true;
        }
    }

    @Override
    public List<HeldPacket> take() {
        return buffer.drain();
    }

    /** Like {@link #take}, and including every packet the rules dropped before this call; holding goes on. */
    private List<HeldPacket> takeCaptured() {
        capture.flush();
        return buffer.drain();
    }

    /**
     * What was held goes in before the hold ends, until a round finds nothing new, so that a packet arriving
     * after the end does not overtake one held before it; only what the last moment before the end caught
     * follows it.
     */
    @Override
    public void release(Consumer<List<HeldPacket>> inject) {
        for (int round = 0; on && round < CATCH_UP_ROUNDS; round++) {
            List<HeldPacket> caught = takeCaptured();
            if (caught.isEmpty()) {
                break;
            }
            inject.accept(caught);
        }
        List<HeldPacket> rest = off();
        if (!rest.isEmpty()) {
            inject.accept(rest);
        }
    }

    @Override
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

    @Override
    public long kept() {
        return buffer.kept();
    }

    @Override
    public long overflowed() {
        return buffer.overflowed();
    }

    @Override
    public void close() {
        off();
    }
}
