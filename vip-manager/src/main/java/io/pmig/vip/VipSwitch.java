package io.pmig.vip;

import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.hold.Hold;
import io.pmig.vip.replay.Replay;

import java.net.InetAddress;
import java.util.List;

/**
 * What both ends of a VIP's move share: the hold on this node, forwarding what it holds to the
 * node that has the VIP, replaying held packets into this node's stack, and announcing the VIP
 * when it arrives here. Every step is idempotent; {@link #close} undoes what is left on.
 *
 * <p>Whichever node has just taken the VIP (the destination, or the source on rollback) polls
 * {@link #announceDue} until it returns true, putting in between what the other node still
 * receives from stale neighbour caches ({@link #forward} there, {@link #replayLate} here); then
 * the other node stops holding and its last packets are replayed here too.
 */
public abstract sealed class VipSwitch implements AutoCloseable permits SourceSwitch, DestinationSwitch {
    final VipManager manager;
    final InetAddress vip;
    final int prefix;
    final Hold hold;
    private Replay replay;
    private long replayed;
    private long firstAnnouncementAt;
    private int rounds;

    VipSwitch(VipManager manager, InetAddress vip, int prefix) {
        this.manager = manager;
        this.vip = vip;
        this.prefix = prefix;
        this.hold = manager.hold(vip);
    }

    public InetAddress vip() {
        return vip;
    }

    /** Whether this node has the VIP now (as far as this move goes). */
    abstract boolean vipIsHere();

    /** Starts holding the VIP's inbound packets on this node. */
    public void hold() {
        hold.on();
    }

    public boolean holding() {
        return hold.isOn();
    }

    /** The packets held here since the last call, oldest first, for the node that has the VIP; holding goes on. */
    public List<HeldPacket> forward() {
        return hold.take();
    }

    /**
     * Stops holding. What was held since the last {@link #forward} goes into this node's stack if the
     * VIP is here (in order, none overtaken by a packet arriving after the end: {@link Hold#release}),
     * else it is returned, for the node that has it.
     */
    public List<HeldPacket> stopHolding() {
        if (vipIsHere()) {
            hold.release(this::inject);
            return List.of();
        }
        return hold.off();
    }

    /** Puts packets the other node forwarded into this node's stack, as they come. */
    public void replayLate(List<HeldPacket> fromPeer) {
        inject(fromPeer);
    }

    /** Sends the first round of announcements that the VIP is here, now. */
    void announceFirstRound() {
        manager.announcer().announce(vip, manager.settings().announceMode());
        firstAnnouncementAt = System.nanoTime();
        rounds = 1;
    }

    /**
     * Sends the announcement rounds that are due by now (the configured interval after the one
     * before); returns true once every round is out, or if this node announced nothing.
     */
    public boolean announceDue() {
        VipSettings s = manager.settings();
        if (rounds == 0) {
            return true;
        }
        while (rounds < s.announcements() && System.nanoTime() - firstAnnouncementAt >= rounds * s.announceInterval().toNanos()) {
            manager.announcer().announce(vip, s.announceMode());
            rounds++;
        }
        return rounds == s.announcements();
    }

    boolean announced() {
        return rounds > 0;
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
