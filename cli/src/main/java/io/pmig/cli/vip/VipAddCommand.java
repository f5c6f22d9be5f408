package io.pmig.cli.vip;

import io.pmig.cli.ExitCodes;
import io.pmig.vip.arp.GratuitousArp;
import io.pmig.vip.netlink.VipAddresses;
import java.net.Inet4Address;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pmig vip add VIP/PREFIX --dev IFACE [--announce]}. */
@Command(name = "add", description = {
    "Add a VIP to an interface (nothing happens if it is there already). It must lie in one of the",
    "interface's own subnets. With --announce, tell the segment with gratuitous ARP (IPv4)."})
public final class VipAddCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "VIP/PREFIX", description = "e.g. 10.77.0.50/24")
    String vip;

    @Option(names = "--dev", required = true, paramLabel = "IFACE", description = "the interface, e.g. eth0")
    String dev;

    @Option(names = "--announce", description = "send gratuitous ARP at once and 4 more times 200 ms apart")
    boolean announce;

    @Option(names = "--json", description = "print the result as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        VipTarget target = VipTarget.parse(vip);
        try (VipAddresses vips = new VipAddresses()) {
            vips.add(dev, target.address(), target.prefix());
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("vip", target.toString());
        result.put("interface", dev);
        if (announce && target.address() instanceof Inet4Address) {
            result.put("announced", GratuitousArp.announce(dev, target.address()).frames());
        }
        VipListCommand.print(spec, json, result, "added " + target + " to " + dev
            + (result.containsKey("announced") ? ", announced with " + result.get("announced") + " gratuitous ARP frames" : ""));
        return ExitCodes.OK;
    }
}
