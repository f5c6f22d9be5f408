package io.pmig.cli.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.Json;
import io.pmig.cli.daemon.DaemonSocketOption;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pmig service add NAME (--pid PID | --cgroup PATH) [--vip IP/PREFIX]... [--dns FQDN]}. */
@Command(name = "add",
        description = {"Register a running process of this node as service NAME, by its pid or by the cgroup it runs in, with"
                + " its VIPs and DNS name; pmig migrate NAME then moves it. A service by cgroup is the cgroup's one top process:"
                + " a cgroup of several processes is refused at migrate, as pmig refuses process trees so far. Root, or the"
                + " owner of the process, may. Exits 0 when registered, 3 when refused (a name taken, no such process)."})
public final class ServiceAddCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DaemonSocketOption daemon;

    @Mixin
    ServiceOptions options;

    @Parameters(index = "0", paramLabel = "NAME", description = "the service's name (letters, digits, '.', '-', '_')")
    String name;

    @ArgGroup(multiplicity = "1")
    Process process;

    /** Exactly one of --pid and --cgroup. */
    static final class Process {
        @Option(names = "--pid", paramLabel = "PID", description = "the service's process")
        Integer pid;

        @Option(names = "--cgroup", paramLabel = "PATH", description = "the service's cgroup v2, e.g. /system.slice/web.scope (systemd-run --scope --unit web)")
        String cgroup;
    }

    @Override
    public Integer call() {
        ObjectNode request = JsonNodeFactory.instance.objectNode().put("op", "service.add").put("name", name);
        if (process.pid != null) {
            request.put("pid", process.pid);
        } else {
            request.put("cgroup", process.cgroup);
        }
        JsonNode s = daemon.client().call(options.into(request));
        PrintWriter out = spec.commandLine().getOut();
        out.println(options.json ? Json.write(s) : "added service " + ServiceOptions.describe(s));
        out.flush();
        return ExitCodes.OK;
    }
}
