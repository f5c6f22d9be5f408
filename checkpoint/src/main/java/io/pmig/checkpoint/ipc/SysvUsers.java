package io.pmig.checkpoint.ipc;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.tree.PidNamespaces;

import java.util.List;
import java.util.Set;

/**
 * The processes being moved, as System V IPC sees them: pids as /proc/sysvipc and semctl(GETPID) give them (this
 * host's), and the pid each has in the image (as it numbers itself).
 */
record SysvUsers(List<Integer> hostPids, Set<Integer> members) {
    static SysvUsers of(List<Integer> hostPids) {
        return new SysvUsers(List.copyOf(hostPids), Set.copyOf(hostPids));
    }

    /** The members that still run (a zombie maps nothing). */
    List<Integer> live() {
        return hostPids.stream().filter(pid -> new ProcFs(pid).exists() && !io.pmig.checkpoint.tree.ProcessTree.ended(pid)).toList();
    }

    /** Refuses a member in an IPC namespace other than the engine's, whose objects the engine could neither see nor make. */
    void requireEnginesIpcNamespace() {
        String engines = new ProcFs((int) ProcessHandle.current().pid()).readLink("ns/ipc");
        for (int pid : live()) {
            String its = new ProcFs(pid).readLink("ns/ipc");
            if (!its.equals(engines)) {
                throw new RefusedException("process " + pid + " lives in an IPC namespace (" + its + ") other than pmig's (" + engines
                    + "): its System V objects could not be seen nor made again; run pmig in that namespace");
            }
        }
    }

    /** A member's pid as the image records it, or 0 for a pid of no member. */
    int imagePid(int hostPid) {
        return members.contains(hostPid) ? PidNamespaces.innerId(hostPid) : 0;
    }

    /**
     * Refuses {@code what} when {@code pid} (a user of it) is a process that runs outside the tree: moving the tree would
     * take the object from under it. A pid of no process (one that ended) is no user any more.
     */
    void requireNoOutsider(int pid, String what) {
        if (pid <= 0 || members.contains(pid)) {
            return;
        }
        ProcFs other = new ProcFs(pid);
        String comm;
        try {
            comm = other.read("comm").trim();
        } catch (RuntimeException gone) {
            return;
        }
        throw new RefusedException(what + " is used by process " + pid + " ('" + comm + "'), which is not part of the tree being "
            + "moved (root " + hostPids.get(0) + "): moving the tree would take it away from that process; stop it, or move the "
            + "tree that contains both");
    }
}
