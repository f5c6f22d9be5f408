package io.pmig.cli.vip;

import io.pmig.cli.ExitCodes;
import io.pmig.vip.netlink.VipAddresses;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code pmig vip remove VIP/PREFIX --dev IFACE}. */
@Command(name = "remove", description = {"Remove a VIP that pmig added from an interface (nothing happens if it is not there);",
    "the interface's own addresses and those added otherwise are refused."})
public final class VipRemoveCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @ParentCommand
    VipCommand vip;

    @Mixin
    VipOnInterface on;

    @Override
    public Integer call() {
        vip.requireRoot("remove");
        VipTarget target = on.target();
        try (VipAddresses vips = new VipAddresses()) {
            vips.removeAdded(on.dev, target.address(), target.prefix());
        }
        VipListCommand.print(spec, on.json, on.result(target), "removed " + target + " from " + on.dev);
        return ExitCodes.OK;
    }
}
