package io.pmig.cli.vip;

import io.pmig.cli.Pmig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code pmig vip add|remove|list}: a service's virtual IPs on this node's interface. */
@Command(name = "vip",
        description = {"Add, remove and list the virtual IPs of services on an interface of this node, and pin a cgroup's outbound"
            + " connections to one. Needs root."},
        subcommands = {VipAddCommand.class, VipRemoveCommand.class, VipListCommand.class, VipSourceCommand.class})
public final class VipCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @ParentCommand
    Pmig pmig;

    @Override
    public void run() {
        throw Pmig.missingCommand(spec);
    }

    /** Refuses (exit 3) unless root: a VIP changes the node's addresses (CAP_NET_ADMIN), its probe sends raw ARP (CAP_NET_RAW). */
    void requireRoot(String subcommand) {
        pmig.requireRoot("vip " + subcommand, "it changes the interface's addresses (CAP_NET_ADMIN) and sends ARP"
                + " (CAP_NET_RAW); pmig vip list needs no privilege");
    }
}
