package io.pmig.cli.vip;

import picocli.CommandLine.Command;

/** {@code pmig vip add|remove|list}: a service's virtual IPs on this node's interface. */
@Command(name = "vip",
        description = {"Add, remove and list the virtual IPs of services on an interface of this node. Needs root."},
        subcommands = {VipAddCommand.class, VipRemoveCommand.class, VipListCommand.class})
public final class VipCommand {
}
