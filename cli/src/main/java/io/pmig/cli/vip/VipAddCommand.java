package io.pmig.cli.vip;

import io.pmig.cli.ExitCodes;
import io.pmig.vip.neighbour.Announcer;
import io.pmig.vip.netlink.VipAddresses;
import java.net.Inet4Address;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pmig vip add VIP/PREFIX --dev IFACE [--announce]}. */
@Command(name = "add", description = {
    "Add a VIP to an interface (nothing happens if it is there already). It must lie in one of the",
    "interface's own subnets. With --announce, tell the segment with gratuitous ARP (IPv4)."})
public final class VipAddCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    VipOnInterface on;

    @Option(names = "--announce", description = "send gratuitous ARP at once and 4 more times 200 ms apart")
    boolean announce;

    @Override
    public Integer call() {
        VipTarget target = on.target();
        try (VipAddresses vips = new VipAddresses()) {
            vips.add(on.dev, target.address(), target.prefix());
        }
        Map<String, Object> result = on.result(target);
        String text = "added " + target + " to " + on.dev;
        if (announce && target.address() instanceof Inet4Address) {
            int frames = Announcer.announce(on.dev, target.address()).frames();
            result.put("announced", frames);
            text += ", announced with " + frames + " gratuitous ARP frames";
        }
        VipListCommand.print(spec, on.json, result, text);
        return ExitCodes.OK;
    }
}
