package io.pmig.vip.hold;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * The packets a hold keeps, in arrival order, within {@link HoldLimits}. The capture thread adds,
 * the switchover's thread takes; both under this object's lock (a few per packet, no waiting).
 */
public final class HoldBuffer {
    private static final Logger LOG = LoggerFactory.getLogger(HoldBuffer.class);
    private final String what;
    private final HoldLimits limits;
    private final List<HeldPacket> packets = new ArrayList<>();
    private long bytes;
    private long kept;
    private long overflowed;

    public HoldBuffer(String what, HoldLimits limits) {
        this.what = what;
        this.limits = limits;
    }

    /** Keeps {@code p} unless a limit is reached; returns whether it was kept. */
    public synchronized boolean add(HeldPacket p) {
        if (packets.size() >= limits.maxPackets() || bytes + p.length() > limits.maxBytes()) {
            if (overflowed++ == 0) {
                LOG.warn("event=hold-overflow hold=\"{}\" packets={} bytes={} maxPackets={} maxBytes={}: further packets are "
                    + "dropped and left to the clients' retransmission", what, packets.size(), bytes, limits.maxPackets(), limits.maxBytes());
            }
            return false;
        }
        packets.add(p);
        bytes += p.length();
        kept++;
        return true;
    }

    /** Everything kept so far, oldest first; the buffer is empty afterwards. */
    public synchronized List<HeldPacket> drain() {
        List<HeldPacket> out = new ArrayList<>(packets);
        packets.clear();
        bytes = 0;
        return out;
    }

    /** Packets kept since the hold began, drained ones included. */
    public synchronized long kept() {
        return kept;
    }

    /** Packets not kept because a limit was reached. */
    public synchronized long overflowed() {
        return overflowed;
    }
}
