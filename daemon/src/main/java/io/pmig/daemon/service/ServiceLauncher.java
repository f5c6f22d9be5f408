package io.pmig.daemon.service;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.cgroup.ServiceCgroup;
import io.pmig.checkpoint.restore.RestorerBinary;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.daemon.control.ControlCall;
import io.pmig.daemon.control.ControlRefusedException;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/**
 * {"op": "run", "name", "argv": [PROGRAM (absolute), ARG...], "env": {...}, "cwd", "vips", "dns"}: starts a
 * service under pmig, in the shape a restore into a new PID namespace gives a process, so that it moves like one:
 * {@code pmig-restorer run} makes a new time namespace and a new PID namespace (with a mount namespace and /proc of its own) whose init is
 * pmig's minimal one, with the program as its only child, in cgroup {@code pmig/NAME} of this host's hierarchies.
 * Its stdin, stdout and stderr are /dev/null. Registered by the program's pid, as {@code pmig service add --pid}.
 */
final class ServiceLauncher {
    private static final long CHILD_WAIT_NANOS = 5_000_000_000L;
    private static final long CHILD_POLL_NANOS = 10_000_000L;

    private ServiceLauncher() {
    }

    static Service start(ControlCall call, String node, ServiceRegistry registry) {
        JsonNode r = call.request();
        String name = Service.requireValidName(r.path("name").asText(null));
        if (!call.caller().root()) {
            throw new ControlRefusedException("only root may start a service with pmig run (pmigd starts it as root)");
        }
        if (registry.get(name).isPresent()) {
            throw new ControlRefusedException("a service named " + name + " is registered on " + node + " already; choose another"
                + " name, or pmig service remove " + name + " first");
        }
        List<String> argv = new ArrayList<>();
        r.path("argv").forEach(a -> argv.add(a.asText()));
        if (argv.isEmpty() || !argv.get(0).startsWith("/") || !Files.isExecutable(Path.of(argv.get(0)))) {
            throw new ControlRefusedException("cannot run " + (argv.isEmpty() ? "nothing" : "'" + argv.get(0) + "'")
                + ": name an executable program by its absolute path (pmig run resolves it on PATH)");
        }
        Path cwd = Path.of(r.path("cwd").asText("/"));
        if (!Files.isDirectory(cwd)) {
            cwd = Path.of("/");
        }
        List<String> command = new ArrayList<>(List.of(RestorerBinary.path().toString(), "run"));
        command.addAll(argv);
        ProcessBuilder builder = new ProcessBuilder(command).directory(cwd.toFile()).redirectErrorStream(true);
        Map<String, String> env = builder.environment();
        env.clear();
        r.path("env").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
        Process launcher;
        try {
            launcher = builder.start();
        } catch (IOException e) {
            throw new ControlRefusedException("cannot start pmig-restorer to run " + argv.get(0) + ": " + e.getMessage());
        }
        String status;
        try {
            // the launcher waits for this byte: its namespace's init and the program are made inside the cgroup
            ServiceCgroup.place(name, List.of((int) launcher.pid()));
            try (OutputStream go = launcher.getOutputStream()) {
                go.write('g');
            }
            status = new String(launcher.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            launcher.waitFor();
        } catch (IOException | FailedException e) {
            launcher.destroyForcibly();
            throw new ControlRefusedException("cannot start service " + name + ": " + e.getMessage());
        } catch (InterruptedException e) {
            launcher.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ControlRefusedException("interrupted while starting service " + name);
        }
        int nsInit = 0;
        for (String line : status.lines().toList()) {
            String[] words = line.split(" ");
            if (words[0].equals("nsinit") && words.length > 1) {
                nsInit = Integer.parseInt(words[1]);
            } else if (words[0].startsWith("error-")) {
                throw new ControlRefusedException("cannot start " + argv.get(0) + " as service " + name + ": " + words[0].substring(6)
                    + " failed with errno " + (words.length > 2 ? words[2] : "?"));
            }
        }
        if (nsInit == 0) {
            throw new IllegalStateException("service " + name + " did not start: pmig-restorer said " + status.strip());
        }
        Service s = Service.of(name, program(nsInit, name, argv.get(0)), null, ServiceOps.vips(r), ServiceOps.dns(r));
        registry.add(s);
        return s;
    }

    /**
     * The init's one child: the program. The init exits once it has no child, so while it lives the child is there, or
     * about to be seen (a children file is not promised to be complete while processes come and go, proc(5)).
     */
    private static int program(int nsInit, String name, String program) {
        ProcFs init = new ProcFs(nsInit);
        long deadline = System.nanoTime() + CHILD_WAIT_NANOS;
        while (init.exists()) {
            try {
                List<Integer> children = List.copyOf(init.children());
                if (children.size() == 1) {
                    return children.get(0);
                }
            } catch (UncheckedIOException exiting) {
                // it is going: the next turn sees it gone
            }
            if (System.nanoTime() > deadline) {
                break;
            }
            LockSupport.parkNanos(CHILD_POLL_NANOS);
        }
        throw new IllegalStateException("service " + name + " did not start: " + program + " exited at once"
            + (init.exists() ? "" : ", and pmig's init of its PID namespace with it"));
    }
}
