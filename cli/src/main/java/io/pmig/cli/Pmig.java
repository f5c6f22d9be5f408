package io.pmig.cli;

import io.pmig.checkpoint.RefusedException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
        description = {
            "Live migration of Linux services with their TCP sessions and virtual IPs.",
            "It talks to the node's daemon pmigd to move a running service to another node of the same L2 subnet;"
                    + " it also checkpoints and restores processes on one machine, manages VIPs, makes the daemons'"
                    + " certificates and builds a lab of nodes on one machine to try it all."})
public final class Pmig implements Runnable {
    /** The subcommands, in the order the help lists them. */
    private static final List<Class<?>> COMMANDS = List.of(CheckpointCommand.class, RestoreCommand.class, DemoCommand.class,
            io.pmig.cli.lab.LabCommand.class, io.pmig.cli.vip.VipCommand.class, io.pmig.cli.daemon.StatusCommand.class,
            io.pmig.cli.daemon.MigrateCommand.class, io.pmig.cli.service.ServiceCommand.class, io.pmig.cli.service.RunCommand.class,
            io.pmig.cli.service.DrainCommand.class, io.pmig.cli.certs.CertsCommand.class);

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
            exitCode = commandLine(Engines.real(), Pmig::effectiveUidIsRoot, args.length > 0 ? args[0] : "").execute(args);
        } catch (Throwable e) {
            System.err.println("pmig: " + Errors.unexpected(e));
            exitCode = ExitCodes.FAILED;
        }
        System.exit(exitCode);
    }

    /** The whole command as an operator runs it; the package build renders its man pages and completion from it. */
    public static CommandLine commandLine() {
        return commandLine(Engines.real(), Pmig::effectiveUidIsRoot);
    }

    /** The whole command with its error handling; tests pass a test double of the engines and of the root check. */
    static CommandLine commandLine(Engines engines, BooleanSupplier root) {
        return commandLine(engines, root, "");
    }

    /**
     * The command for a command line that begins with {@code first}. Building a subcommand's model
     * (picocli reads its annotations) is most of a short command's start-up, so only the subcommand
     * {@code first} names is built, none for --version, and all of them otherwise (help, errors).
     */
    static CommandLine commandLine(Engines engines, BooleanSupplier root, String first) {
        CommandLine commandLine = new CommandLine(new Pmig(engines, root));
        boolean version = first.equals("--version") || first.equals("-V");
        List<Class<?>> named = COMMANDS.stream().filter(c -> c.getAnnotation(Command.class).name().equals(first)).toList();
        for (Class<?> command : version ? List.<Class<?>>of() : named.isEmpty() ? COMMANDS : named) {
            commandLine.addSubcommand(command);
        }
        Errors errors = new Errors();
        commandLine.setExecutionExceptionHandler(errors);
        commandLine.setParameterExceptionHandler(errors);
        listExitCodes(commandLine);
        return commandLine;
    }

    /** Every command's help ends with the exit codes: the common ones, where a command lists none of its own. */
    private static void listExitCodes(CommandLine command) {
        if (command.getCommandSpec().usageMessage().exitCodeList().isEmpty()) {
            command.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(ExitCodes.descriptions());
        }
        command.getSubcommands().values().forEach(Pmig::listExitCodes);
    }

    @Override
    public void run() {
        throw missingCommand(spec);
    }

    /** The usage error of a command that only groups subcommands and was given none: it names every one. */
    public static ParameterException missingCommand(CommandSpec spec) {
        List<String> names = new ArrayList<>(spec.subcommands().keySet());
        String last = names.remove(names.size() - 1);
        return new ParameterException(spec.commandLine(),
                "missing command: " + (names.isEmpty() ? last : String.join(", ", names) + " or " + last));
    }

    Engines engines() {
        return engines;
    }

    /** Refuses (exit code 3, nothing touched) unless running as root; {@code why} completes "COMMAND must run as root: ". */
    public void requireRoot(String command, String why) {
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

    /**
     * The project version: the Implementation-Version of pmig's jar, else (classes not in a jar, as in
     * the tests) version.properties, filtered by the Maven build. Every command asks for it (the
     * subcommands inherit it); a resource lookup would open every jar before pmig's, the jar's
     * manifest is at hand.
     */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            String version = Pmig.class.getPackage().getImplementationVersion();
            if (version != null) {
                return new String[] {"pmig " + version};
            }
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
