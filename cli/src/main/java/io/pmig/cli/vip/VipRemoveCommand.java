package io.pmig.cli.vip;

import io.pmig.cli.ExitCodes;
import io.pmig.vip.netlink.VipAddresses;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code pmig vip remove VIP/PREFIX --dev IFACE}. */
@Command(name = "remove", description = {"Remove a VIP that pmig added from an interface (nothing happens if it is not there);"
    + " the interface's own addresses and those added otherwise are refused."})
public final class VipRemoveCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @ParentCommand
    VipCommand vip;

    @Mixin
    VipOnInterface on;

    @Option(names = "--dev", required = true, paramLabel = "IFACE", description = "the interface, e.g. eth0")
    String dev;

    @Override
    public Integer call() {
        vip.requireRoot("remove");
        VipTarget target = on.target();
        try (VipAddresses vips = new VipAddresses()) {
            vips.removeAdded(dev, target.address(), target.prefix());
        }
        VipListCommand.print(spec, on.json, on.result(target, dev), "removed " + target + " from " + dev);
        return ExitCodes.OK;
    }
}
