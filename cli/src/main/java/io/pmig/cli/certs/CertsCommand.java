package io.pmig.cli.certs;

import io.pmig.cli.Pmig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code pmig certs}: the certificates daemons authenticate each other with. */
@Command(name = "certs",
        description = {"Make the certificates pmigd peers authenticate each other with (mutual TLS)."},
        subcommands = {CertsInitCommand.class})
public final class CertsCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw Pmig.missingCommand(spec);
    }
}
