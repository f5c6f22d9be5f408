package io.pmig.vip;

import io.pmig.vip.hold.CapturedHold;
import io.pmig.vip.hold.Hold;
import io.pmig.vip.hold.HoldCapture;
import io.pmig.vip.hold.HoldRules;
import io.pmig.vip.hold.KernelHold;
import io.pmig.vip.nativeio.Net;
import io.pmig.vip.nativeio.PmigHold;
import io.pmig.vip.neighbour.Announcer;
import io.pmig.vip.netlink.InterfaceAddress;
import io.pmig.vip.netlink.VipAddresses;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.util.List;

/**
 * A node's VIP manager for one interface: the entry point of the VIP's move between nodes,
 * which the daemon drives step by step through a {@link SourceSwitch} on the node that gives
 * the VIP away and a {@link DestinationSwitch} on the node that takes it. Everything slow
 * (installing the hold rules, opening the netlink, packet and capture sockets, the replay
 * device, the address-conflict probe) happens here and in the switches' preparation, so each
 * switchover step costs microseconds.
 *
 * <p>Holds are pmig.ko's when /dev/pmig is there (probed at {@link #open}), else the capture's.
 *
 * <p>Opened in, and working in, the calling thread's network namespace. One caller at a time.
 */
public final class VipManager implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VipManager.class);
    private final String iface;
    private final VipSettings settings;
    private final VipAddresses addresses;
    private final Announcer announcer;
    private final HoldRules rules;
    /** null with pmig.ko */
    private final HoldCapture capture;
    /** /dev/pmig, or -1 without pmig.ko */
    private final int module;

    private VipManager(String iface, VipSettings settings, VipAddresses addresses, Announcer announcer, HoldRules rules,
                       HoldCapture capture, int module) {
        this.iface = iface;
        this.settings = settings;
        this.addresses = addresses;
        this.announcer = announcer;
        this.rules = rules;
        this.capture = capture;
        this.module = module;
    }

    /**
     * Opens the manager for {@code iface}, installs the hold rules and opens /dev/pmig, or without
     * pmig.ko starts the capture of held packets (one thread, until {@link #close}); refused with
     * "interface eth9 does not exist" if there is none.
     */
    public static VipManager open(String iface, VipSettings settings) {
        VipAddresses addresses = new VipAddresses();
        Announcer announcer = null;
        HoldRules rules = null;
        try {
            addresses.index(iface);
            announcer = Announcer.open(iface);
            rules = HoldRules.install();
            int module = PmigHold.openIfLoaded();
            LOG.info("event=vip-hold method={}", module >= 0 ? "pmig.ko" : "nflog (no " + PmigHold.DEVICE + ")");
            return new VipManager(iface, settings, addresses, announcer, rules, module >= 0 ? null : HoldCapture.open(), module);
        } catch (RuntimeException e) {
            if (rules != null) {
                rules.close();
            }
            if (announcer != null) {
                announcer.close();
            }
            addresses.close();
            throw e;
        }
    }

    public String iface() {
        return iface;
    }

    /** This interface's MAC, which the destination's probe accepts as the VIP's present owner. */
    public byte[] mac() {
        return announcer.mac();
    }

    /** Prepares giving {@code vip} away; refused unless it is on this interface. */
    public SourceSwitch source(InetAddress vip, int prefix) {
        return new SourceSwitch(this, vip, prefix);
    }

    /**
     * Prepares taking {@code vip} from the node whose interface has {@code sourceMac}; refused if the
     * VIP is already here, or if a host other than that node answers for it on the segment.
     */
    public DestinationSwitch destination(InetAddress vip, int prefix, byte[] sourceMac) {
        return new DestinationSwitch(this, vip, prefix, sourceMac);
    }

    VipSettings settings() {
        return settings;
    }

    VipAddresses addresses() {
        return addresses;
    }

    Announcer announcer() {
        return announcer;
    }

    HoldRules rules() {
        return rules;
    }

    /** A hold of {@code vip}'s packets, not yet on: in the kernel with pmig.ko, else through the capture. */
    Hold hold(InetAddress vip) {
        return module >= 0 ? new KernelHold(module, vip, settings.holdLimits())
            : new CapturedHold(rules, capture, vip, settings.holdLimits());
    }

    /** Whether holds are pmig.ko's. */
    public boolean holdsInTheKernel() {
        return module >= 0;
    }

    /**
     * Puts {@code vip} straight after a crash in the middle of a move (a daemon restarted with a move
     * in its journal): no hold, reset guard or ARP silence left for it, and the address here, announced, if
     * {@code belongsHere}, else gone from here. Idempotent.
     */
    public void recover(InetAddress vip, int prefix, boolean belongsHere) {
        rules.release(vip);
        rules.unguardResets(vip);
        if (belongsHere) {
            rules.unsilenceArp(vip);
            if (!has(vip)) {
                addresses.add(iface, vip, prefix);
            }
            announcer.announce(vip, settings.announceMode());
        } else {
            rules.silenceArp(vip);
            addresses.remove(iface, vip, prefix);
            rules.unsilenceArp(vip);
        }
    }

    /** The interface's addresses now, its own and VIPs. */
    public List<InterfaceAddress> interfaceAddresses() {
        return addresses.list(iface);
    }

    /** Every address of this node now, on any interface: its own and the VIPs. */
    public List<InterfaceAddress> nodeAddresses() {
        return addresses.listAll();
    }

    /** Whether {@code vip} is on this interface now. */
    public boolean has(InetAddress vip) {
        return interfaceAddresses().stream().anyMatch(a -> a.address().equals(vip));
    }

    @Override
    public void close() {
        try {
            if (capture != null) {
                capture.close();
            }
            rules.close();
        } finally {
            if (module >= 0) {
                Net.close(module);
            }
            announcer.close();
            addresses.close();
        }
    }
}
