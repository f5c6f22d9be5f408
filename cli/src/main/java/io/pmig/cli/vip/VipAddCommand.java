package io.pmig.cli.vip;

import io.pmig.cli.ExitCodes;
import io.pmig.vip.VipException;
import io.pmig.vip.neighbour.Announcer;
import io.pmig.vip.neighbour.ArpFrame;
import io.pmig.vip.neighbour.ArpProbe;
import io.pmig.vip.netlink.VipAddresses;
import java.net.Inet4Address;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pmig vip add VIP/PREFIX [--dev IFACE] [--announce]}. */
@Command(name = "add", description = {
    "Add a VIP to an interface (nothing happens if it is there already).",
    "The VIP must lie in one of the interface's own subnets, and (IPv4) no other host on the segment may answer for"
            + " it (RFC 5227 probe, 200 ms). Without --dev, the interface is the one whose subnet holds the VIP; when"
            + " none or several do, the command refuses and names them. With --announce, it tells the segment"
            + " (gratuitous ARP, or an unsolicited neighbour advertisement for IPv6)."})
public final class VipAddCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @ParentCommand
    VipCommand vip;

    @Mixin
    VipOnInterface on;

    @Option(names = "--dev", paramLabel = "IFACE",
            description = "the interface, e.g. eth0 (default: the one interface whose own subnet holds the VIP)")
    String dev;

    @Option(names = "--announce", description = "announce at once and 4 more times 200 ms apart")
    boolean announce;

    @Option(names = "--no-probe", description = "take the VIP without first asking the segment whether another host has it")
    boolean noProbe;

    @Override
    public Integer call() {
        vip.requireRoot("add");
        VipTarget target = on.target();
        String iface = dev != null ? dev : SubnetInterface.holding(target.address());
        try (VipAddresses vips = new VipAddresses()) {
            boolean here = vips.list(iface).stream().anyMatch(a -> a.address().equals(target.address()));
            if (!here && !noProbe && target.address() instanceof Inet4Address) {
                ArpProbe.holder(iface, target.address(), ArpProbe.DEFAULT_TIMEOUT).ifPresent(mac -> {
                    throw new VipException(target.address().getHostAddress() + " is in use on " + iface + "'s segment by "
                        + ArpFrame.mac(mac) + "; free it there, or choose another VIP");
                });
            }
            vips.add(iface, target.address(), target.prefix());
        }
        Map<String, Object> result = on.result(target, iface);
        String text = "added " + target + " to " + iface;
        if (announce) {
            int frames = Announcer.announce(iface, target.address()).frames();
            result.put("announced", frames);
            text += ", announced with " + frames + " frames";
        }
        VipListCommand.print(spec, on.json, result, text);
        return ExitCodes.OK;
    }
}
