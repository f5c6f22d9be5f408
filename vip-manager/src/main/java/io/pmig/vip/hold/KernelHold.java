package io.pmig.vip.hold;

import io.pmig.nativeio.SyscallException;
import io.pmig.vip.VipException;
import io.pmig.vip.nativeio.PmigHold;

import java.net.InetAddress;
import java.util.List;
import java.util.function.Consumer;

/**
 * The hold inside the kernel (pmig.ko, kernel-module/README.md): the module takes the VIP's packets
 * at PRE_ROUTING and queues them; a release re-injects them there in order without a round trip
 * through user space, and no capture or replay device is involved. Packets taken out (for the
 * other node) are copied from the kernel's queue. In the network namespace of the thread that
 * turns it on; it ends with the manager's /dev/pmig descriptor at the latest.
 */
public final class KernelHold implements Hold {
    private final int device;
    private final InetAddress vip;
    private final HoldLimits limits;
    private boolean on;
    private boolean all;
    private long keptBefore;
    private long overflowedBefore;

    public KernelHold(int device, InetAddress vip, HoldLimits limits) {
        this.device = device;
        this.vip = vip;
        this.limits = limits;
    }

    @Override
    public boolean isOn() {
        return on;
    }

    @Override
    public void on() {
        if (!all) {
            start(0);
            all = true;
        }
    }

    @Override
    public void onForNewConnections() {
        if (!on) {
            start(PmigHold.PMIG_HOLD_NEW_CONNECTIONS);
        }
    }

    private void start(int flags) {
        try {
            PmigHold.hold(device, vip, flags, limits.maxPackets(), limits.maxBytes());
        } catch (SyscallException e) {
            throw new VipException("pmig.ko cannot hold " + vip.getHostAddress() + "'s packets: " + e.getMessage()
                + " (is another pmigd holding it in this network namespace?)");
        }
        on = true;
    }

    @Override
    public List<HeldPacket> take() {
        if (!on) {
            return List.of();
        }
        return PmigHold.take(device, vip).stream().map(p -> new HeldPacket(p.ip(), p.arrivedAtEpochNanos())).toList();
    }

    /** The module re-injects in order itself; {@code inject} is not needed. */
    @Override
    public void release(Consumer<List<HeldPacket>> inject) {
        end(PmigHold.PMIG_RELEASE_END);
    }

    @Override
    public List<HeldPacket> off() {
        List<HeldPacket> rest = take();
        end(PmigHold.PMIG_RELEASE_END | PmigHold.PMIG_RELEASE_DROP);
        return rest;
    }

    private void end(int flags) {
        if (on) {
            PmigHold.Stats stats = PmigHold.stats(device, vip);
            keptBefore += stats.kept();
            overflowedBefore += stats.overflowed();
            PmigHold.release(device, vip, flags);
            on = false;
            all = false;
        }
    }

    @Override
    public long kept() {
        return keptBefore + (on ? PmigHold.stats(device, vip).kept() : 0);
    }

    @Override
    public long overflowed() {
        return overflowedBefore + (on ? PmigHold.stats(device, vip).overflowed() : 0);
    }

    @Override
    public void close() {
        off();
    }
}
