package io.pmig.vip;

import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.replay.Replay;

import java.net.InetAddress;
import java.util.List;

/**
 * The node giving a VIP away. Steps, in order: {@link #hold}; {@link #releaseVip} (ARP silence,
 * then the address goes); {@link #forward} as often as wanted (what stale caches still send here
 * keeps being held: go on until the destination's announcements are all out, so a neighbour that
 * ignored the first one loses nothing); {@link #stopHolding}, whose packets are forwarded too. Or, before the
 * destination is committed, {@link #rollback}: the VIP comes back here, is announced, and
 * everything held on both nodes goes into this node's stack for the original process.
 */
public final class SourceSwitch extends VipSwitch {
    private boolean released;

    SourceSwitch(VipManager manager, InetAddress vip, int prefix) {
        super(manager, vip, prefix);
        if (!manager.has(vip)) {
            close();
            throw new VipException(vip.getHostAddress() + " is not on " + manager.iface() + " of this node; "
                + "a VIP moves from the node that has it (pmig vip list shows where it is)");
        }
    }

    /** Stops answering ARP for the VIP and removes it from the interface. */
    public void releaseVip() {
        if (!released) {
            manager.rules().silenceArp(vip);
            manager.addresses().remove(manager.iface(), vip, prefix);
            released = true;
        }
    }

    public boolean released() {
        return released;
    }

    /** The packets held here since the last call, oldest first, for the destination to replay. */
    public List<HeldPacket> forward() {
        return hold.take();
    }

    /** Stops holding; returns the last held packets, for the destination. */
    public List<HeldPacket> stopHolding() {
        List<HeldPacket> rest = hold.off();
        manager.rules().unsilenceArp(vip);
        return rest;
    }

    /**
     * Takes the VIP back (if it was released) and announces it, then puts into this node's stack
     * what this node held and not yet forwarded, followed by {@code fromDestination} (what the
     * destination held), and stops holding. Call it before the original process resumes.
     */
    public void rollback(List<HeldPacket> fromDestination) {
        if (released) {
            manager.rules().unsilenceArp(vip);
            manager.addresses().add(manager.iface(), vip, prefix);
            manager.announcer().announce(vip, manager.settings().announceMode());
            released = false;
        }
        inject(Replay.merge(hold.take(), fromDestination));
        inject(hold.off());
        manager.rules().unsilenceArp(vip);
    }

    @Override
    public void close() {
        try {
            manager.rules().unsilenceArp(vip);
        } finally {
            super.close();
        }
    }
}
