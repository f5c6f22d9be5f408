package io.pmig.cli;

import io.pmig.checkpoint.RefusedException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.function.BooleanSupplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/** {@code pmig}, the operator's command. Each subcommand is its own class. */
@Command(name = "pmig",
        scope = ScopeType.INHERIT, // every subcommand gets --help and --version
        mixinStandardHelpOptions = true,
        versionProvider = Pmig.Version.class,
        description = "Live migration of Linux services. This build checkpoints and restores single processes.",
        subcommands = {CheckpointCommand.class, RestoreCommand.class, DemoCommand.class, io.pmig.cli.lab.LabCommand.class,
            io.pmig.cli.vip.VipCommand.class, io.pmig.cli.daemon.StatusCommand.class, io.pmig.cli.daemon.MigrateCommand.class, io.pmig.cli.certs.CertsCommand.class})
public final class Pmig implements Runnable {
    @Spec
    CommandSpec spec;

    private final Engines engines;
    private final BooleanSupplier root;

    Pmig(Engines engines, BooleanSupplier root) {
        this.engines = engines;
        this.root = root;
    }

    public static void main(String[] args) {
        // what escapes the commands' error handling (an Error, a background thread's exception) is one line too
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> System.err.println("pmig: " + Errors.unexpected(e)
            + " in thread " + thread.getName()));
        int exitCode;
        try {
            exitCode = commandLine(Engines.real(), Pmig::effectiveUidIsRoot).execute(args);
        } catch (Throwable e) {
            System.err.println("pmig: " + Errors.unexpected(e));
            exitCode = ExitCodes.FAILED;
        }
        System.exit(exitCode);
    }

    /** The whole command with its error handling; tests pass a test double of the engines and of the root check. */
    static CommandLine commandLine(Engines engines, BooleanSupplier root) {
        CommandLine commandLine = new CommandLine(new Pmig(engines, root));
        Errors errors = new Errors();
        commandLine.setExecutionExceptionHandler(errors);
        commandLine.setParameterExceptionHandler(errors);
        commandLine.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n")
                .exitCodeList(ExitCodes.descriptions());
        for (CommandLine sub : commandLine.getSubcommands().values()) {
            sub.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n")
                    .exitCodeList(ExitCodes.descriptions());
        }
        return commandLine;
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing command: checkpoint, restore, demo, lab, vip, status or certs");
    }

    Engines engines() {
        return engines;
    }

    /** Refuses (exit code 3, nothing touched) unless running as root; {@code why} completes "COMMAND must run as root: ". */
    void requireRoot(String command, String why) {
        if (!root.getAsBoolean()) {
            throw new RefusedException(command + " must run as root: " + why);
        }
    }

    static boolean effectiveUidIsRoot() {
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

    /** The project version, filtered into version.properties by the Maven build. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties properties = new Properties();
            try (InputStream in = Pmig.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    properties.load(in);
                }
            }
            return new String[] {"pmig " + properties.getProperty("version", "(unknown version)")};
        }
    }
}
