package io.pmig.cli.vip;

import io.pmig.cli.Pmig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code pmig vip add|remove|list}: a service's virtual IPs on this node's interface. */
@Command(name = "vip",
        description = {"Add, remove and list the virtual IPs of services on an interface of this node. Needs root."},
        subcommands = {VipAddCommand.class, VipRemoveCommand.class, VipListCommand.class})
public final class VipCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw Pmig.missingCommand(spec);
    }
}
