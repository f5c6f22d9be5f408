package io.pmig.checkpoint.tree;

import io.pmig.checkpoint.RefusedException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * The namespaces a restore puts a process into without making them again: the restored process lives in the engine's
 * mount, UTS, network and cgroup namespaces (the engine's thread's: a test or a lab node may join a network namespace on one
 * thread). A process in another one would come back seeing another hostname, other interfaces and addresses, or
 * another cgroup root, or other mounts (the files it opens later: a systemd unit's PrivateTmp= or ProtectSystem= gives
 * its service a mount namespace of its own), so it is refused at pre-flight, naming the namespace; but for the mount namespace pmig's restorer made
 * with a PID namespace of pmig's (the host's mounts and a /proc of its own), made again with it. PID, time, IPC and
 * user namespaces have checks of their own.
 */
final class EngineNamespaces {
    /** The kinds checked here (their /proc/PID/ns links): each one's name and what the process would lose. */
    private static final Map<String, String[]> KINDS = Map.of(
        "mnt", new String[] {"mount namespace", "it would see this host's mounts, not its own (systemd's PrivateTmp=,"
            + " ProtectSystem= and the like give a service one: turn them off in the unit of a service to be moved)"},
        "uts", new String[] {"UTS namespace", "it would come back with this host's hostname and domain name"},
        "net", new String[] {"network namespace", "its interfaces, addresses and sockets would come back in another one"},
        "cgroup", new String[] {"cgroup namespace", "it would see another cgroup root"});

    private EngineNamespaces() {
    }

    static void requireEngines(Set<Integer> moved) {
        for (Map.Entry<String, String[]> kind : KINDS.entrySet()) {
            String engines = link(Path.of("/proc/thread-self/ns", kind.getKey()));
            for (int pid : moved) {
                String its = PidNamespaces.namespaceOf(pid, kind.getKey());
                if (its != null && !its.equals(engines) && !(kind.getKey().equals("mnt") && its.equals(PidNamespaces.pmigsMountNamespace(pid)))) {
                    throw new RefusedException(SharingCheck.describe(pid) + " lives in a " + kind.getValue()[0] + " other than pmig's ("
                        + its + ", pmig's is " + engines + "): " + kind.getValue()[1] + "; pmig does not make such namespaces"
                        + " again yet: run pmig (pmigd) in that namespace, or start the service outside it");
                }
            }
        }
    }

    private static String link(Path path) {
        try {
            return Files.readSymbolicLink(path).toString();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path, e);
        }
    }
}
