package io.pmig.cli.vip;

import io.pmig.cli.ExitCodes;
import io.pmig.vip.netlink.VipAddresses;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pmig vip remove VIP/PREFIX --dev IFACE}. */
@Command(name = "remove", description = {"Remove a VIP from an interface (nothing happens if it is not there)."})
public final class VipRemoveCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "VIP/PREFIX", description = "e.g. 10.77.0.50/24")
    String vip;

    @Option(names = "--dev", required = true, paramLabel = "IFACE", description = "the interface, e.g. eth0")
    String dev;

    @Option(names = "--json", description = "print the result as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        VipTarget target = VipTarget.parse(vip);
        try (VipAddresses vips = new VipAddresses()) {
            vips.remove(dev, target.address(), target.prefix());
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("vip", target.toString());
        result.put("interface", dev);
        VipListCommand.print(spec, json, result, "removed " + target + " from " + dev);
        return ExitCodes.OK;
    }
}
