package io.pmig.cli.lab;

import io.pmig.checkpoint.FailedException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What the lab reads in /proc: the node inits (found by their name, their argument and being PID 1
 * of a nested PID namespace), whether a recorded init is still that process (its start time), and
 * waiting for processes to be gone.
 */
final class LabProcs {
    /** The comm of pmig-lab-init (cli/src/main/c/pmig-lab-init.c). */
    static final String INIT_COMM = "pmig-lab-init";

    private static final Path PROC = Path.of("/proc");

    private LabProcs() {
    }

    /** A running node init: its host PID, the network namespace name it was given, its start time. */
    record Init(long pid, String netnsArgument, long startTime) {
    }

    /** Every process named pmig-lab-init that is PID 1 of its own PID namespace. */
    static List<Init> findInits() {
        List<Init> inits = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(PROC, "[0-9]*")) {
            for (Path entry : entries) {
                long pid = Long.parseLong(entry.getFileName().toString());
                try {
                    if (!INIT_COMM.equals(Files.readString(entry.resolve("comm")).strip())) {
                        continue;
                    }
                    String[] argv = Files.readString(entry.resolve("cmdline"), StandardCharsets.UTF_8).split("\0");
                    Optional<Long> startTime = startTime(pid);
                    if (argv.length >= 2 && isNamespaceInit(entry) && startTime.isPresent() && running(pid)) {
                        inits.add(new Init(pid, argv[1], startTime.get()));
                    }
                } catch (NoSuchFileException e) {
                    // it exited while we looked
                }
            }
        } catch (IOException e) {
            throw new FailedException("cannot read /proc to find the lab's node inits: " + e, e);
        }
        return inits;
    }

    /** Whether PID is still the process recorded with {@code startTime}, a running pmig-lab-init. */
    static boolean isInit(Long pid, Long startTime) {
        if (pid == null || startTime == null) {
            return false;
        }
        try {
            return INIT_COMM.equals(Files.readString(PROC.resolve(pid.toString()).resolve("comm")).strip())
                    && startTime(pid).equals(Optional.of(startTime)) && running(pid);
        } catch (IOException e) {
            return false;
        }
    }

    /** The start time of a process (field 22 of /proc/PID/stat, clock ticks after boot), if it exists. */
    static Optional<Long> startTime(long pid) {
        Optional<String[]> fields = statFields(pid);
        return fields.map(f -> Long.parseLong(f[19])); // fields after "pid (comm) ": state is [0], starttime [19]
    }

    /** The parent of a process, if it exists. */
    static Optional<Long> parent(long pid) {
        return statFields(pid).map(f -> Long.parseLong(f[1]));
    }

    /** The name (comm) of a process, if it exists. */
    static Optional<String> comm(long pid) {
        try {
            return Optional.of(Files.readString(PROC.resolve(Long.toString(pid)).resolve("comm")).strip());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Whether a process exists and is not a zombie: a zombie has let go of everything but its PID. */
    static boolean running(long pid) {
        Optional<String[]> fields = statFields(pid);
        return fields.isPresent() && !fields.get()[0].equals("Z") && !fields.get()[0].equals("X");
    }

    /** "net:[4026532281]" for a process, empty when it is gone. */
    static Optional<String> netns(long pid) {
        return link(pid, "ns/net");
    }

    /** The target of a symbolic link under /proc/PID, empty when the process is gone. */
    private static Optional<String> link(long pid, String name) {
        try {
            return Optional.of(Files.readSymbolicLink(PROC.resolve(Long.toString(pid)).resolve(name)).toString());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** "net:[4026532281]" for a named network namespace (/run/netns/NAME), empty when there is none. */
    static Optional<String> netnsOfFile(String netns) {
        try {
            Object inode = Files.getAttribute(LabLayout.netnsFile(netns), "unix:ino");
            return Optional.of("net:[" + inode + "]");
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * The processes in the PID namespace that {@code init} is PID 1 of (init excluded) whose command
     * line has {@code argument}, by host PID.
     */
    static List<Long> inPidNamespaceOf(long init, String argument) {
        Optional<String> namespace = link(init, "ns/pid");
        List<Long> found = new ArrayList<>();
        if (namespace.isEmpty()) {
            return found;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(PROC, "[0-9]*")) {
            for (Path entry : entries) {
                long pid = Long.parseLong(entry.getFileName().toString());
                if (pid == init || !link(pid, "ns/pid").equals(namespace) || !running(pid)) {
                    continue;
                }
                try {
                    List<String> argv = List.of(Files.readString(entry.resolve("cmdline"), StandardCharsets.UTF_8).split("\0"));
                    if (argv.contains(argument)) {
                        found.add(pid);
                    }
                } catch (IOException e) {
                    // it exited while we looked
                }
            }
        } catch (IOException e) {
            throw new FailedException("cannot read /proc to find the processes of a lab node: " + e, e);
        }
        return found;
    }

    /** Waits until none of the processes runs; returns those still running after {@code millis}. */
    static List<Long> awaitGone(List<Long> pids, long millis) {
        long deadline = System.currentTimeMillis() + millis;
        while (true) {
            List<Long> left = pids.stream().filter(LabProcs::running).toList();
            if (left.isEmpty() || System.currentTimeMillis() > deadline) {
                return left;
            }
            sleep(10);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FailedException("interrupted", e);
        }
    }

    /** "NSpid: 4242 1": PID 1 in a PID namespace below the one we look from. */
    private static boolean isNamespaceInit(Path entry) throws IOException {
        for (String line : Files.readAllLines(entry.resolve("status"))) {
            if (line.startsWith("NSpid:")) {
                String[] pids = line.substring("NSpid:".length()).strip().split("\\s+");
                return pids.length >= 2 && pids[pids.length - 1].equals("1");
            }
        }
        return false;
    }

    /** The fields of /proc/PID/stat after "PID (COMM) ", whose COMM may hold spaces and parentheses. */
    private static Optional<String[]> statFields(long pid) {
        try {
            String stat = Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"));
            return Optional.of(stat.substring(stat.lastIndexOf(')') + 2).strip().split(" "));
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
