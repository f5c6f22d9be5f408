package io.pmig.cli.lab;

import io.pmig.cli.ExitCodes;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/** {@code pmig lab up}: builds the lab, or leaves it as it is when the same lab is already up. */
@Command(name = "up",
        description = {
            "Build the lab: nodes and a client, each in its own namespaces, on one bridge.",
            "Nodes node-a, node-b, ... get addresses .11, .12, ... of the subnet, the client .100; each has eth0 on"
                    + " bridge br0 in namespace pmig-lab-switch. Each node also has its own PID and mount namespace"
                    + " (its own /proc) with pmig-lab-init as PID 1, and runs a pmigd (port 7700, mutual TLS with"
                    + " certificates of the lab's own CA, control socket /run/pmig/pmigd.sock on a tmpfs of the node's own)."
                    + " The lab is recorded in /run/pmig-lab/state.json."
                    + " A lab that is already up is left as it is if it has the same shape, refused otherwise. Needs root."},
        exitCodeListHeading = LabCommand.EXIT_CODES_HEADING,
        exitCodeList = {LabCommand.EXIT_OK, LabCommand.EXIT_FAILED, LabCommand.EXIT_USAGE, LabCommand.EXIT_REFUSED})
public final class LabUpCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--nodes", paramLabel = "N", defaultValue = "2",
            description = "how many nodes, 1 to " + LabLayout.MAX_NODES + " (default: ${DEFAULT-VALUE})")
    int nodes;

    @Option(names = "--subnet", paramLabel = "CIDR", defaultValue = "10.77.0.0/24", converter = SubnetConverter.class,
            description = "the lab's IPv4 subnet, /" + Subnet.MIN_PREFIX_LENGTH + " to /" + Subnet.MAX_PREFIX_LENGTH
                    + " (default: ${DEFAULT-VALUE})")
    Subnet subnet;

    @Option(names = "--dns", description = "also host dns (address .53) running bind9's named, authoritative for "
            + LabDns.ZONE + " and taking updates signed with a TSIG key made for the lab; the daemons are configured"
            + " to register names there")
    boolean dns;

    @Option(names = LabCommand.JSON, description = "print the lab (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        if (nodes < 1 || nodes > LabLayout.MAX_NODES) {
            throw new ParameterException(spec.commandLine(), "--nodes must be from 1 to " + LabLayout.MAX_NODES + ", not " + nodes);
        }
        LabCommand.requireRoot("up");
        Lab lab = LabCommand.lab();
        Lab.Up up = lab.up(nodes, subnet, dns, io.pmig.cli.NativeProgram.path("pmig-lab-init"));
        Lab.Status status = lab.status();
        PrintWriter out = spec.commandLine().getOut();
        out.print(json ? LabReports.write(LabReports.json(up, status, lab.layout())) + "\n" : LabReports.text(up, status, lab.layout()));
        out.flush();
        return ExitCodes.OK;
    }

    /** Parses --subnet; a bad one is a usage error that says what is wrong. */
    static final class SubnetConverter implements ITypeConverter<Subnet> {
        @Override
        public Subnet convert(String value) {
            try {
                return Subnet.parse(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
