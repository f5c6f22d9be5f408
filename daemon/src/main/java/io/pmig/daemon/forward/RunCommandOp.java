package io.pmig.daemon.forward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.daemon.Daemon;
import io.pmig.daemon.control.Caller;
import io.pmig.daemon.control.ControlCall;
import io.pmig.daemon.control.ControlHandler;
import io.pmig.daemon.log.DaemonLog;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * The "run-command" op, {"op": "run-command", "argv": ["checkpoint", ...]}: runs a {@link ForwardedCommands forwarded}
 * pmig command here and answers {"handled": true, "exitCode": N, "stdout": ..., "stderr": ...}. A command the daemon
 * would not run as the caller's own process would is answered {"handled": false, "why": ...}, for pmig to run it itself:
 * one it does not forward, a caller other than root, or one in another mount, PID or network namespace or under another
 * root (its paths, process ids and connections are not the daemon's).
 */
public final class RunCommandOp implements ControlHandler {
    public static final String OP = "run-command";
    private static final List<String> NAMESPACES = List.of("mnt", "pid", "net");

    private final ForwardedCommands commands;
    private final Runnable beforeEach;

    private RunCommandOp(ForwardedCommands commands, Runnable beforeEach) {
        this.commands = commands;
        this.beforeEach = beforeEach;
    }

    /**
     * Adds the op to {@code daemon} when the CLI's commands are on its class path (they are in every build and package);
     * {@code beforeEach} runs before each command it runs (the engine's warm-up gives way).
     */
    public static void install(Daemon daemon, Runnable beforeEach) {
        ServiceLoader.load(ForwardedCommands.class).findFirst().ifPresent(c -> daemon.onControl(OP, new RunCommandOp(c, beforeEach)));
    }

    @Override
    public ObjectNode handle(ControlCall call) {
        List<String> argv = new ArrayList<>();
        for (JsonNode word : call.request().path("argv")) {
            argv.add(word.asText());
        }
        // root's alone (the commands need root, and the daemon reads files as root): anybody else's pmig runs them itself
        Optional<String> elsewhere = argv.isEmpty() || !commands.names().contains(argv.get(0))
            ? Optional.of("pmigd does not run '" + (argv.isEmpty() ? "" : argv.get(0)) + "'")
            : !call.caller().root() ? Optional.of("pmigd runs commands for root only") : elsewhere(call.caller());
        ObjectNode result = JsonNodeFactory.instance.objectNode();
        if (elsewhere.isPresent()) {
            result.put("handled", false);
            result.put("why", elsewhere.get());
            return result;
        }
        beforeEach.run();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exitCode = commands.run(argv, new PrintWriter(out, true), new PrintWriter(err, true));
        DaemonLog.info("command", "argv", String.join(" ", argv), "uid", call.caller().uid(), "pid", call.caller().pid(),
            "exit", exitCode);
        result.put("handled", true);
        result.put("exitCode", exitCode);
        result.put("stdout", out.toString());
        result.put("stderr", err.toString());
        return result;
    }

    /** Why the caller's view of the system is not the daemon's, if it is not. */
    private static Optional<String> elsewhere(Caller caller) {
        Path proc = Path.of("/proc", Integer.toString(caller.pid()));
        try {
            for (String ns : NAMESPACES) {
                Path mine = Path.of("/proc/self/ns", ns);
                if (!Files.readSymbolicLink(proc.resolve("ns").resolve(ns)).equals(Files.readSymbolicLink(mine))) {
                    return Optional.of("the caller is in another " + ns + " namespace");
                }
            }
            if (!Files.readSymbolicLink(proc.resolve("root")).toString().equals("/")) {
                return Optional.of("the caller has another root directory");
            }
        } catch (IOException e) {
            return Optional.of("cannot compare the caller's namespaces with the daemon's: " + e.getMessage());
        }
        return Optional.empty();
    }
}
