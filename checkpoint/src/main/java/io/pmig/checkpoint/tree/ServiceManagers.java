package io.pmig.checkpoint.tree;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.UncheckedIOException;
import java.util.Optional;
import java.util.Set;

/**
 * A process that systemd started as a service's main process (its parent is systemd, PID 1, and it runs in the
 * unit's cgroup, {@code /….service}): when a move ends the original, systemd sees its main process killed and restarts
 * the unit where the service left (Restart=on-abort, on-failure, always: the service then runs twice) or marks it
 * failed. Such a process is refused at pre-flight, naming the unit and the remedy. A process under a scope (started
 * from a login shell, or with {@code systemd-run --scope}) or started with {@code pmig run} is no unit's main process.
 */
final class ServiceManagers {
    private ServiceManagers() {
    }

    /** Refuses a process of {@code moved} whose parent, outside it, is systemd and which runs in a service unit. */
    static void requireNoUnitsMainProcess(Set<Integer> moved) {
        String init = comm(1);
        for (int pid : moved) {
            try {
                ProcFs proc = new ProcFs(pid);
                int parent = proc.parent();
                if (!moved.contains(parent)) {
                    serviceUnit(parent, init, cgroupOf(proc.read("cgroup"))).ifPresent(unit -> {
                        throw new RefusedException(SharingCheck.describe(pid) + " is the main process of systemd's " + unit
                            + ": when the move ends it here, systemd would restart the unit on this node (the service would"
                            + " run twice) or mark it failed; stop the unit and start the service with 'pmig run', or outside a"
                            + " service unit ('systemd-run --scope')");
                    });
                }
            } catch (UncheckedIOException gone) {
                // it ended meanwhile: the freeze finds out
            }
        }
    }

    /**
     * The service unit a process runs as the main process of, given its parent's pid, the comm of PID 1 ({@code init})
     * and its v2 cgroup path, or empty.
     */
    static Optional<String> serviceUnit(int parent, String init, String cgroup) {
        if (parent != 1 || !"systemd".equals(init) || cgroup == null) {
            return Optional.empty();
        }
        String unit = cgroup.substring(cgroup.lastIndexOf('/') + 1);
        return unit.endsWith(".service") ? Optional.of(unit) : Optional.empty();
    }

    /**
     * The cgroup systemd tracks the process's unit in: the path of its "name=systemd" v1 hierarchy on a hybrid host, else
     * of its v2 one ("0::PATH" of /proc/PID/cgroup); null if it has neither.
     */
    static String cgroupOf(String procCgroup) {
        String v2 = null;
        for (String line : procCgroup.split("\n")) {
            int name = line.indexOf(":name=systemd:");
            if (name >= 0) {
                return line.substring(name + ":name=systemd:".length());
            }
            if (line.startsWith("0::")) {
                v2 = line.substring(3);
            }
        }
        return v2;
    }

    private static String comm(int pid) {
        try {
            return new ProcFs(pid).read("comm").strip();
        } catch (UncheckedIOException e) {
            return "";
        }
    }
}
