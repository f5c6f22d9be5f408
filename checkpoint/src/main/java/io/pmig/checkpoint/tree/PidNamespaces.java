package io.pmig.checkpoint.tree;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Processes that live in a PID namespace of their own below the one this /proc shows: a service
 * restored where its pid was taken runs there under pmig's minimal init, with its own numbers inside.
 * Its image keeps the numbers it sees (the last of {@code NSpid}), and the restore puts it into a new
 * namespace again, wherever it goes: its pid never changes under it.
 */
public final class PidNamespaces {
    /** How far above the last pid given out an id counts as soon given out (see mayBeHandedOutSoon). */
    private static final int HANDED_OUT_SOON = 1000;
    /** The program whose minimal init holds a restored process's namespace (checkpoint/src/main/c), as installed: name and a suffix. */
    private static final String PMIG_INIT = "pmig-restorer";

    private PidNamespaces() {
    }

    /** Whether process (or thread) {@code tid} lives in a PID namespace below this /proc's. */
    public static boolean inOwnNamespace(int tid) {
        return nspid(tid).length > 1;
    }

    /** {@link #inOwnNamespace(int)} of a process from its status, read already. */
    public static boolean inOwnNamespace(int tid, Map<String, String> status) {
        return ids(tid, status, "NSpid").length > 1;
    }

    /** The id process (or thread) {@code tid} has in its own PID namespace: the number it sees for itself. */
    public static int innerId(int tid) {
        int[] ids = nspid(tid);
        return ids[ids.length - 1];
    }

    /**
     * Refuses a process of {@code moved} in a namespace of its own unless that namespace holds it and
     * pmig's minimal init alone, one level below this /proc's: anything else in it would be left behind.
     */
    static void requireOwnedByMovedAlone(Set<Integer> moved) {
        for (int pid : moved) {
            int[] ids = nspid(pid);
            if (ids.length == 1) {
                continue;
            }
            if (ids.length > 2) {
                throw new RefusedException(SharingCheck.describe(pid) + " lives " + (ids.length - 1) + " PID namespaces deep"
                    + ", which pmig cannot recreate; only a process in one namespace of its own moves");
            }
            if (ids[1] == 1) {
                throw new RefusedException(SharingCheck.describe(pid) + " is the init (pid 1) of its PID namespace, which pmig"
                    + " cannot restore; run the service in the host's PID namespace (pmig gives it one of its own where its pid"
                    + " is taken)");
            }
            String namespace = new ProcFs(pid).readLink("ns/pid");
            for (int other : ProcFs.allPids()) {
                if (moved.contains(other) || !namespace.equals(namespaceOf(other, "pid"))) {
                    continue;
                }
                if (!(nspid(other).length == 2 && nspid(other)[1] == 1 && isPmigInit(other))) {
                    throw new RefusedException(SharingCheck.describe(pid) + " shares its PID namespace (" + namespace + ") with "
                        + SharingCheck.describe(other) + ", which is not being moved; moving one without the other would split"
                        + " the service");
                }
            }
        }
    }

    /**
     * The mount namespace pmig's restorer made with the PID namespace process {@code pid} lives in (its own /proc, the
     * rest the host's), or null when it lives in no namespace of pmig's: the one of that namespace's init, pmig's own,
     * found up its ancestors (every process of a PID namespace descends from its init).
     */
    static String pmigsMountNamespace(int pid) {
        String namespace = namespaceOf(pid, "pid");
        try {
            for (int p = pid; namespace != null && namespace.equals(namespaceOf(p, "pid")); p = new ProcFs(p).parent()) {
                if (innerId(p) == 1) {
                    return isPmigInit(p) ? namespaceOf(p, "mnt") : null;
                }
            }
        } catch (UncheckedIOException gone) {
            // an ancestor exited while we looked: no namespace of pmig's to vouch for
        }
        return null;
    }

    /**
     * The first of {@code ids} (a pid, then its thread ids) that a restore could not take on this host, described with
     * {@code where} ("pid 42 is in use on node-b (by 'sshd')"),
     * or empty: an id is taken by a process or thread, and also as the process group or session id of a process
     * whose leader is gone (clone3 refuses those too).
     */
    public static Optional<String> firstTaken(List<Integer> ids, String where) {
        Map<Integer, String> groupsAndSessions = new HashMap<>();
        for (int pid : ProcFs.allPids()) {
            try {
                String[] stat = new ProcFs(pid).stat();
                groupsAndSessions.putIfAbsent(Integer.parseInt(stat[5]), "the process group id of '" + stat[2] + "' (pid " + pid + ")");
                groupsAndSessions.putIfAbsent(Integer.parseInt(stat[6]), "the session id of '" + stat[2] + "' (pid " + pid + ")");
            } catch (UncheckedIOException gone) {
                // it exited while we looked
            }
        }
        for (int i = 0; i < ids.size(); i++) {
            int id = ids.get(i);
            String what = (i == 0 ? "pid " : "thread id ") + id + " is in use " + where;
            ProcFs holder = new ProcFs(id);
            if (holder.exists()) {
                String comm;
                try {
                    comm = holder.read("comm").strip();
                } catch (UncheckedIOException gone) {
                    comm = "?";
                }
                return Optional.of(what + " (by '" + comm + "')");
            }
            if (groupsAndSessions.containsKey(id)) {
                return Optional.of(what + " as " + groupsAndSessions.get(id));
            }
        }
        return Optional.empty();
    }

    /**
     * Whether the kernel may hand one of {@code ids} to another process before a restore creates it: the kernel gives
     * out pids in ascending order from the last it gave ({@code ns_last_pid}), so an id just above it is taken by the
     * next process or thread anyone starts (the restorer's own launch among them), after a check found it free.
     */
    public static boolean mayBeHandedOutSoon(List<Integer> ids) {
        long last;
        try {
            last = Long.parseLong(Files.readString(Path.of("/proc/sys/kernel/ns_last_pid")).trim());
        } catch (IOException | NumberFormatException e) {
            return true;    // unknown: as risky as can be
        }
        return ids.stream().anyMatch(id -> id > last && id - last <= HANDED_OUT_SOON);
    }

    static boolean isPmigInit(int pid) {
        try {
            return Path.of(new ProcFs(pid).readLink("exe")).getFileName().toString().startsWith(PMIG_INIT);
        } catch (UncheckedIOException e) {
            return false;
        }
    }

    /** The namespace of kind {@code kind} ("pid", "time": a link in /proc/PID/ns) process {@code pid} lives in, or null if it is gone. */
    static String namespaceOf(int pid, String kind) {
        try {
            return new ProcFs(pid).readLink("ns/" + kind);
        } catch (UncheckedIOException e) {
            return null;                                    // gone, or a kernel thread being torn down
        }
    }

    /**
     * The process group ({@code NSpgid}) or session ({@code NSsid}) of process {@code pid} as it sees it: the innermost of
     * its /proc/PID/status line. 0 when that group or session lies outside the process's namespace.
     */
    static int innerId(int pid, String field) {
        int[] ids = ids(pid, field);
        return ids[ids.length - 1];
    }

    /** The NSpid line of /proc/TID/status: the id in this /proc's namespace first, the innermost last. */
    private static int[] nspid(int tid) {
        return ids(tid, "NSpid");
    }

    /** {@link #innerId(int)} of a thread from its status, read already (with its process's other threads). */
    public static int innerId(int tid, Map<String, String> status) {
        int[] ids = ids(tid, status, "NSpid");
        return ids[ids.length - 1];
    }

    private static int[] ids(int tid, String field) {
        return ids(tid, new ProcFs(tid).status(), field);
    }

    private static int[] ids(int tid, Map<String, String> status, String field) {
        String line = status.get(field);
        if (line == null) {
            throw new RefusedException("/proc/" + tid + "/status has no " + field + " line (a kernel before 4.1); pmig needs a newer kernel");
        }
        List<Integer> ids = new ArrayList<>();
        for (String id : line.trim().split("\\s+")) {
            ids.add(Integer.parseInt(id));
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }
}
