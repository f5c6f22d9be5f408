package io.pmig.cli.lab;

import io.pmig.cli.ExitCodes;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pmig lab status}: the lab as it is now. */
@Command(name = "status",
        description = {
            "Show the lab and whether each of its hosts is alive.",
            "For each host: its namespace and address, a node's init (host PID) and whether it runs, its pmigd, and extra IPv4"
                    + " addresses on its eth0 (VIPs); also leftovers of an earlier lab. Exits 0 when no lab is up too."
                    + " Needs root."},
        exitCodeListHeading = LabCommand.EXIT_CODES_HEADING,
        exitCodeList = {LabCommand.EXIT_OK, LabCommand.EXIT_FAILED, LabCommand.EXIT_USAGE, LabCommand.EXIT_REFUSED})
public final class LabStatusCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = LabCommand.JSON, description = "print the lab (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        LabCommand.requireRoot("status");
        Lab lab = LabCommand.lab();
        Lab.Status status = lab.status();
        PrintWriter out = spec.commandLine().getOut();
        out.print(json ? LabReports.write(LabReports.json(status, lab.layout())) + "\n" : LabReports.text(status, lab.layout()));
        out.flush();
        return ExitCodes.OK;
    }
}
