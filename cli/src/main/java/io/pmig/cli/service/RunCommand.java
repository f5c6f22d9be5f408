package io.pmig.cli.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.RefusedException;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.Json;
import io.pmig.cli.daemon.DaemonSocketOption;
import java.io.File;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pmig run NAME [--vip IP/PREFIX]... [--dns FQDN] -- CMD [ARG...]}: a service started under pmig. */
@Command(name = "run",
        description = {"Start CMD as service NAME under pmig: the recommended way to start a service that will move. The local"
                + " pmigd starts it in a cgroup of its own (pmig/NAME), a PID namespace and a time namespace of its own, under pmig's minimal"
                + " init, so that its PIDs are free on every node, and registers it as pmig service add does; stdin, stdout and"
                + " stderr are /dev/null, the environment and working directory are this command's. Needs root. Exits 0 when"
                + " the service runs, 3 when refused (a name taken, no such program), 1 when it exited at once."})
public final class RunCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DaemonSocketOption daemon;

    @Mixin
    ServiceOptions options;

    @Parameters(index = "0", paramLabel = "NAME", description = "the service's name (letters, digits, '.', '-', '_')")
    String name;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "CMD", description = "the program and its arguments, after --")
    List<String> command;

    @Override
    public Integer call() {
        ObjectNode request = JsonNodeFactory.instance.objectNode().put("op", "run").put("name", name)
                .put("cwd", Path.of("").toAbsolutePath().toString());
        request.withArray("argv").add(program(command.get(0)));
        command.subList(1, command.size()).forEach(request.withArray("argv")::add);
        ObjectNode env = request.putObject("env");
        System.getenv().forEach(env::put);
        JsonNode s = daemon.client().call(options.into(request));
        PrintWriter out = spec.commandLine().getOut();
        out.println(options.json ? Json.write(s) : "started service " + ServiceOptions.describe(s) + ", in a PID namespace of"
                + " its own");
        out.flush();
        return ExitCodes.OK;
    }

    /** The program's absolute path: as given with a '/', else the first executable of that name on PATH. */
    private static String program(String name) {
        if (name.contains("/")) {
            return Path.of(name).toAbsolutePath().toString();
        }
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, name).toAbsolutePath();
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new RefusedException("no program " + name + " on PATH; name it by its path");
    }
}
