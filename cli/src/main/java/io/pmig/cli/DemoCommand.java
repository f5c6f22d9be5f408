package io.pmig.cli;

import io.pmig.cli.demo.MigrationDemo;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code pmig demo}: a streaming service moved between two lab nodes and back while a client checks every byte (MigrationDemo). */
@Command(name = "demo",
        description = {
            "Show a live migration of a streaming service between two lab nodes on this machine.",
            "Builds a lab (nodes node-a and node-b, a client, a pmigd on each node),"
                    + " starts a streaming server on node-a behind VIP " + MigrationDemo.VIP + " and a client that checks every"
                    + " byte of its stream, moves the server to node-b and back with pmig migrate while the stream flows, prints"
                    + " both migration reports and the client's verdict, and removes the lab (also after a failure or Ctrl-C).",
            "The last line is PASS: ... (exit 0) or FAIL: ... (exit 1). Needs root; takes about half a minute."})
public final class DemoCommand implements Callable<Integer> {
    static final String DEFAULT_LAB = "pmig-demo";

    @ParentCommand
    Pmig pmig;

    @Spec
    CommandSpec spec;

    @Option(names = "--lab", paramLabel = "NAME", defaultValue = DEFAULT_LAB,
            description = "the name of the demo's own lab (namespaces NAME-*); it must not be up (default: ${DEFAULT-VALUE})")
    String lab;

    @Option(names = Errors.JSON_OPTION, description = "print one JSON object: both migration reports, the client's verdict and"
            + " the outcome (progress goes to stderr)")
    boolean json;

    @Override
    public Integer call() {
        pmig.requireRoot("demo", "it builds network namespaces and moves a process between them");
        PrintWriter out = spec.commandLine().getOut();
        MigrationDemo.Outcome outcome = new MigrationDemo(lab, json ? spec.commandLine().getErr() : out).run();
        out.println(json ? Json.write(outcome.json()) : (outcome.passed() ? "PASS: " : "FAIL: ") + outcome.message());
        out.flush();
        return outcome.passed() ? ExitCodes.OK : ExitCodes.FAILED;
    }
}
