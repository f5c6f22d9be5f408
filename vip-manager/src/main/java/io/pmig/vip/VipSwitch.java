package io.pmig.vip;

import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.hold.Hold;
import io.pmig.vip.replay.Replay;

import java.net.InetAddress;
import java.util.List;

/**
 * What both ends of a VIP's move share: the hold on this node, and the replay of held packets
 * into this node's stack. Every step is idempotent; {@link #close} undoes what is left on.
 */
public abstract sealed class VipSwitch implements AutoCloseable permits SourceSwitch, DestinationSwitch {
    final VipManager manager;
    final InetAddress vip;
    final int prefix;
    final Hold hold;
    private Replay replay;
    private long replayed;

    VipSwitch(VipManager manager, InetAddress vip, int prefix) {
        this.manager = manager;
        this.vip = vip;
        this.prefix = prefix;
        this.hold = new Hold(manager.rules(), manager.capture(), vip, manager.settings().holdLimits());
    }

    public InetAddress vip() {
        return vip;
    }

    /** Starts holding the VIP's inbound packets on this node. */
    public void hold() {
        hold.on();
    }

    public boolean holding() {
        return hold.isOn();
    }

    /** Packets held on this node since the hold began. */
    public long held() {
        return hold.kept();
    }

    /** Packets dropped but not kept because a hold limit was reached (their senders retransmit them). */
    public long overflowed() {
        return hold.overflowed();
    }

    /** Packets put into this node's stack by replay. */
    public long replayed() {
        return replayed;
    }

    /** The replay device, created on first need (a TUN device costs a few milliseconds: prepare it early). */
    final Replay replayDevice() {
        if (replay == null) {
            replay = Replay.open();
        }
        return replay;
    }

    final void inject(List<HeldPacket> packets) {
        if (!packets.isEmpty()) {
            replayed += replayDevice().inject(packets);
        }
    }

    final String where() {
        return vip.getHostAddress() + " on " + manager.iface();
    }

    @Override
    public void close() {
        try {
            hold.close();
        } finally {
            if (replay != null) {
                replay.close();
            }
        }
    }
}
