package io.pmig.cli.lab;

import io.pmig.checkpoint.RefusedException;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.Pmig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code pmig lab}: nodes on one machine for trying and testing. Each node is a network namespace
 * with a PID and a mount namespace of its own (its own /proc, its init pmig-lab-init as PID 1);
 * the nodes and a client hang on a bridge in a switch namespace. See LabUpCommand and its siblings.
 */
@Command(name = "lab",
        description = {
            "Build nodes on this machine for trying and testing.",
            "Each node is a network, PID and mount namespace; the nodes and a client namespace hang on a bridge in a"
                    + " switch namespace. Nothing outside these namespaces is touched. Needs root."},
        subcommands = {LabUpCommand.class, LabExecCommand.class, LabStatusCommand.class, LabDownCommand.class})
public final class LabCommand implements Runnable {
    static final String EXIT_CODES_HEADING = "%nExit codes:%n";
    static final String EXIT_OK = ExitCodes.OK + ":success";
    static final String EXIT_FAILED = ExitCodes.FAILED + ":failed after something was changed; the message says what state was left";
    static final String EXIT_USAGE = ExitCodes.USAGE + ":usage error";
    static final String EXIT_REFUSED = ExitCodes.REFUSED + ":refused before anything was touched";
    static final String JSON = "--json";

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw Pmig.missingCommand(spec);
    }

    /** The lab this command works on: pmig-lab, or the one PMIG_LAB_NAME names. */
    static Lab lab() {
        return new Lab(LabLayout.fromEnvironment(), new LabShell());
    }

    /** Refuses (exit code 3, nothing touched) unless running as root. */
    static void requireRoot(String command) {
        if (!effectiveUidIsRoot()) {
            throw new RefusedException("pmig lab " + command + " must run as root: it creates and enters namespaces");
        }
    }

    private static boolean effectiveUidIsRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[2].equals("0"); // Uid: real effective saved fs
                }
            }
            throw new IllegalStateException("/proc/self/status has no Uid line");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/status to check for root", e);
        }
    }
}
