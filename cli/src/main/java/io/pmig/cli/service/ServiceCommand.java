package io.pmig.cli.service;

import io.pmig.cli.Pmig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code pmig service add|list|status|stop|remove}: the services pmigd knows by name. */
@Command(name = "service",
        description = {"Name the services of this cluster: add one that runs on this node, list those of every node, tell"
                + " whether one runs here, stop one, remove one. A service's entry lives on the node that runs it, moves with it (pmig migrate NAME) and survives a"
                + " restart of pmigd."},
        subcommands = {ServiceAddCommand.class, ServiceListCommand.class, ServiceStatusCommand.class, ServiceStopCommand.class,
            ServiceRemoveCommand.class})
public final class ServiceCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw Pmig.missingCommand(spec);
    }
}
