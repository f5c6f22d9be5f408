package io.pmig.vip;

import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.replay.Replay;

import java.net.InetAddress;
import java.util.List;

/**
 * The node giving a VIP away. Steps, in order: {@link #holdNewConnections} (optional: the service's listeners
 * empty their queues meanwhile); {@link #hold}; {@link #releaseVip} (ARP silence,
 * then the address goes); {@link #forward} as often as wanted, until the destination's
 * announcements are all out (see {@link VipSwitch}); {@link #stopHolding}, whose packets are
 * forwarded too. Or, before the destination is committed, {@link #rollback}: the VIP comes back
 * here and is announced, and what both nodes held goes into this node's stack for the original
 * process; the destination then forwards what still reaches it until this node's
 * announcements are out.
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

    @Override
    boolean vipIsHere() {
        return !released;
    }

    /**
     * Holds new TCP connection attempts to the VIP (SYN without ACK) while the rest of its traffic still reaches the
     * service, which so takes the connections its listeners hold before it is frozen. What is held comes first in
     * what {@link #forward} returns, and a {@link #rollback} puts it into this node's stack.
     */
    public void holdNewConnections() {
        hold.onForNewConnections();
    }

    /** Stops answering ARP for the VIP and removes it from the interface. */
    public void releaseVip() {
        if (!released) {
            manager.rules().silenceArp(vip);
            manager.addresses().remove(manager.iface(), vip, prefix);
            released = true;
        }
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
            released = false;
            announceFirstRound();
        }
        inject(Replay.merge(hold.take(), fromDestination));
        stopHolding();
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
