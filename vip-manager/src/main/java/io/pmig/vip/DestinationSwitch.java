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
 * restored); {@link #takeVip}; {@link #announce} (the first round, at once); then, with the
 * sockets restored but still in repair mode, {@link #replay} of what the source forwarded merged
 * with what was held here; {@link #stopHolding}; and off the critical path
 * {@link #announceDue} until every round is out, while the source forwards what stale caches
 * still send it ({@link #replayLate}). {@link #rollback} gives the VIP up again and returns what was held
 * here and not replayed, for the source.
 */
public final class DestinationSwitch extends VipSwitch {
    private boolean taken;
    private long firstAnnouncementAt;
    private int rounds;

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

    /** Puts the VIP on this node's interface. */
    public void takeVip() {
        if (!taken) {
            manager.addresses().add(manager.iface(), vip, prefix);
            taken = true;
        }
    }

    public boolean taken() {
        return taken;
    }

    /** Sends the first round of announcements now. */
    public void announce() {
        if (firstAnnouncementAt == 0) {
            manager.announcer().announce(vip, manager.settings().announceMode());
            firstAnnouncementAt = System.nanoTime();
            rounds = 1;
        }
    }

    /**
     * Puts into this node's stack what the source held ({@code fromSource}, oldest first), then what
     * was held here, once each. The hold goes on: call it while the sockets are still in repair mode.
     */
    public void replay(List<HeldPacket> fromSource) {
        inject(Replay.merge(fromSource, hold.take()));
    }

    /** Puts packets the source forwarded after the replay into this node's stack. */
    public void replayLate(List<HeldPacket> fromSource) {
        inject(fromSource);
    }

    /** Stops holding; what was held since the replay goes into the stack. */
    public void stopHolding() {
        inject(hold.off());
    }

    /**
     * Sends the announcement rounds that are due by now (the configured interval after the one
     * before); returns true once every round is out. The caller polls it, forwarding what the
     * source still receives from stale caches in between, until it returns true.
     */
    public boolean announceDue() {
        VipSettings s = manager.settings();
        if (firstAnnouncementAt == 0) {
            return false;
        }
        while (rounds < s.announcements() && System.nanoTime() - firstAnnouncementAt >= rounds * s.announceInterval().toNanos()) {
            manager.announcer().announce(vip, s.announceMode());
            rounds++;
        }
        return rounds == s.announcements();
    }

    /** Gives the VIP up (if taken) and stops holding; returns what was held here and not replayed, for the source. */
    public List<HeldPacket> rollback() {
        if (taken) {
            manager.addresses().remove(manager.iface(), vip, prefix);
            taken = false;
        }
        List<HeldPacket> held = new ArrayList<>(hold.take());
        held.addAll(hold.off());
        return held;
    }
}
