package io.pmig.vip;

import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.neighbour.ArpFrame;
import io.pmig.vip.neighbour.ArpProbe;
import io.pmig.vip.replay.Replay;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The node taking a VIP. Prepared with the replay device made and the segment probed, so the
 * steps are quick: {@link #hold} (before the VIP arrives, so nothing reaches a socket not yet
 * restored); {@link #takeVip} (silently: it may come before the source gives the VIP up, so the
 * restored sockets can bind to it); {@link #announce} (the first round, at once) and
 * {@link #keep} of what the source held. Until the commit nothing the clients send reaches the
 * copy: its kernel would acknowledge data that a rollback then loses (the original never got it,
 * the client never sends it again, and the connection stalls for good). At the commit,
 * {@link #replay} of what the source held merged with what was held here, then
 * {@link #stopHolding}; and off the critical path {@link #announceDue} until every round is out,
 * while the source forwards what stale caches still send it ({@link #replayLate}). Or
 * {@link #rollback}: the VIP is given up, and everything held goes back to the source.
 */
public final class DestinationSwitch extends VipSwitch {
    private boolean taken;
    /** What the source held and forwarded, kept until {@link #replay} or {@link #rollback}. */
    private List<HeldPacket> fromSource = List.of();

    DestinationSwitch(VipManager manager, InetAddress vip, int prefix, byte[] sourceMac) {
        super(manager, vip, prefix);
        try {
            if (manager.has(vip)) {
                throw new VipException(vip.getHostAddress() + " is already on " + manager.iface()
                    + " of this node; it cannot be moved here again (pmig vip list shows it)");
            }
            requireNoOtherOwner(sourceMac);
            replayDevice();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Refuses if a host other than the source answers for the VIP (RFC 5227 probe, IPv4). */
    private void requireNoOtherOwner(byte[] sourceMac) {
        if (!(vip instanceof Inet4Address) || manager.settings().probeTimeout().isZero()) {
            return;
        }
        List<byte[]> others = new ArrayList<>(ArpProbe.holders(manager.iface(), vip, manager.settings().probeTimeout()));
        others.removeIf(mac -> Arrays.equals(mac, sourceMac));
        if (!others.isEmpty()) {
            throw new VipException(vip.getHostAddress() + " is in use on " + manager.iface() + "'s segment by "
                + others.stream().map(ArpFrame::mac).collect(Collectors.joining(", ")) + ", not only by the source node ("
                + ArpFrame.mac(sourceMac) + "); find that host and free the address, or choose another VIP");
        }
    }

    /**
     * Puts the VIP on this node's interface, silent: this node does not answer ARP for it until
     * {@link #announce}, so it may take the VIP ahead of time (the restored sockets bind to it)
     * while the source still serves it. Until {@link #copyRuns} no TCP reset leaves from it: the
     * source's original owns the connections until the commit.
     */
    public void takeVip() {
        if (!taken) {
            manager.rules().guardResets(vip);
            manager.rules().silenceArp(vip);
            manager.addresses().add(manager.iface(), vip, prefix);
            taken = true;
        }
    }

    @Override
    boolean vipIsHere() {
        return taken;
    }

    /** The copy was committed and runs: its connections are its own, resets included. */
    public void copyRuns() {
        manager.rules().unguardResets(vip);
    }

    /** Ends the ARP silence and sends the first round of announcements now. */
    public void announce() {
        if (!announced()) {
            manager.rules().unsilenceArp(vip);
            announceFirstRound();
        }
    }

    /** Keeps what the source held ({@code packets}, oldest first) with what this node holds, until the commit. */
    public void keep(List<HeldPacket> packets) {
        fromSource = List.copyOf(packets);
    }

    /**
     * The commit: puts into this node's stack what the source held, then what was held here, once each. The hold goes
     * on ({@link #stopHolding} ends it).
     */
    public void replay() {
        inject(Replay.merge(fromSource, hold.take()));
        fromSource = List.of();
    }

    /** Drops what was kept and held (--no-replay shows what the clients' retransmissions cost). */
    public void dropHeld() {
        hold.take();
        fromSource = List.of();
    }

    /**
     * Gives the VIP up (if taken); returns what the source forwarded and what was held here, not replayed, for the source.
     * Holding goes on, so what still arrives here is kept for the source ({@link #forward}, then
     * {@link #stopHolding}) until the source has announced the VIP again.
     */
    public List<HeldPacket> rollback() {
        // after stopHolding the VIP was live here: what arrives once it is gone must be held, not dropped
        hold.on();
        if (taken) {
            manager.rules().silenceArp(vip);
            manager.addresses().remove(manager.iface(), vip, prefix);
            taken = false;
        }
        manager.rules().unsilenceArp(vip);
        manager.rules().unguardResets(vip);
        List<HeldPacket> back = Replay.merge(fromSource, hold.take());
        fromSource = List.of();
        return back;
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
