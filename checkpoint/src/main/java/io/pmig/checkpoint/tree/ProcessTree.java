package io.pmig.checkpoint.tree;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The processes of a service: a root and every descendant, in the order a restore creates them (each
 * parent before its children). Every id is the one the processes see (their innermost PID namespace's).
 * The root's image carries this record; each member's own image follows it in the same stream or file,
 * in this order (image-format.md, "Process trees"). A single process has no such record.
 */
@ImageKind("tree")
public record ProcessTree(List<Member> members) {

    public ProcessTree {
        members = List.copyOf(members);
    }

    /**
     * One process: its parent ({@code ppid}, 0 for the root, whose parent stays behind), its process group and session
     * (0 where that lies outside the process's PID namespace), and its thread ids, the main thread first. A process that
     * has ended and waits for its parent to reap it (a zombie) has its {@code exitStatus} (as waitpid(2) gives it) and no
     * image of its own; null for a live one. {@code parentFiles}: it shares its parent's descriptor table (cloned with
     * CLONE_FILES and not CLONE_VM), and is created sharing it again.
     */
    public record Member(int pid, int ppid, int pgid, int sid, List<Integer> tids, Integer exitStatus, boolean parentFiles) {
        public Member {
            tids = List.copyOf(tids);
        }

        public boolean zombie() {
            return exitStatus != null;
        }
    }

    /** The members that live, each with an image of its own after the root's, in this order. */
    public List<Member> live() {
        return members.stream().filter(m -> !m.zombie()).toList();
    }

    public Member root() {
        return members.get(0);
    }

    /**
     * The host pids of process {@code root} and its descendants, each parent before its children (breadth first,
     * children by pid). A process that ends meanwhile is left out.
     */
    public static List<Integer> hostPidsOf(int root) {
        Set<Integer> out = new LinkedHashSet<>();
        Deque<Integer> next = new ArrayDeque<>(List.of(root));
        while (!next.isEmpty()) {
            int pid = next.poll();
            if (!out.add(pid)) {
                continue;
            }
            try {
                next.addAll(new ProcFs(pid).children());
            } catch (UncheckedIOException gone) {
                if (pid == root) {
                    throw gone;
                }
            }
        }
        return List.copyOf(out);
    }

    /** Whether process {@code hostPid} has ended and waits for its parent to reap it (a zombie), or is gone. */
    public static boolean ended(int hostPid) {
        try {
            String state = new ProcFs(hostPid).status().getOrDefault("State", "");
            return state.startsWith("Z") || state.startsWith("X");
        } catch (UncheckedIOException gone) {
            return true;
        }
    }

    /**
     * The tree of the processes {@code hostPids} (as {@link #hostPidsOf} gives them, frozen or not), refused here if a
     * restore could not give each its session and process group back: a member whose session is neither its parent's
     * nor its own (it moved on from a parent since gone), or whose group is not its own, its parent's or that of a
     * member created before it in the same session.
     */
    public static ProcessTree of(List<Integer> hostPids) {
        Map<Integer, Integer> inner = new HashMap<>();
        for (int pid : hostPids) {
            inner.put(pid, PidNamespaces.innerId(pid));
        }
        List<Member> members = new ArrayList<>();
        Map<Integer, Member> byPid = new HashMap<>();
        for (int pid : hostPids) {
            ProcFs proc = new ProcFs(pid);
            int hostParent = Integer.parseInt(proc.status().get("PPid").trim());
            List<Integer> tids = new ArrayList<>();
            tids.add(inner.get(pid));
            // a thread that ends while they are read is left out (threadStatuses): it is no part of the tree any more
            for (Map.Entry<Integer, Map<String, String>> thread : proc.threadStatuses().entrySet()) {
                if (thread.getKey() != pid) {
                    tids.add(PidNamespaces.innerId(thread.getKey(), thread.getValue()));
                }
            }
            String[] stat = proc.stat();
            boolean zombie = stat[3].equals("Z");   // field 3, the state; field 52 the exit code (proc(5))
            Member m = new Member(inner.get(pid), pid == hostPids.get(0) ? 0 : inner.getOrDefault(hostParent, 0),
                PidNamespaces.innerId(pid, "NSpgid"), PidNamespaces.innerId(pid, "NSsid"), tids,
                zombie ? Integer.valueOf(stat[52]) : null,
                !zombie && pid != hostPids.get(0) && Linux.shareObject(pid, hostParent, Linux.KCMP_FILES));
            if (!members.isEmpty()) {
                requireRestorableGroups(m, byPid, pid);
            }
            members.add(m);
            byPid.put(m.pid(), m);
        }
        return new ProcessTree(members);
    }

    private static void requireRestorableGroups(Member m, Map<Integer, Member> created, int hostPid) {
        Member parent = created.get(m.ppid());
        if (parent == null) {
            throw new RefusedException(SharingCheck.describe(hostPid) + " is in the tree but its parent is not; retry");
        }
        if (m.sid() != parent.sid() && m.sid() != m.pid()) {
            throw new RefusedException(SharingCheck.describe(hostPid) + " is in session " + m.sid() + ", neither its parent's ("
                + parent.sid() + ") nor its own, which a restore cannot give it back");
        }
        boolean groupKnown = m.pgid() == m.pid() || m.pgid() == parent.pgid()
            || created.values().stream().anyMatch(o -> o.pid() == m.pgid() && o.sid() == m.sid());
        if (!groupKnown) {
            throw new RefusedException(SharingCheck.describe(hostPid) + " is in process group " + m.pgid()
                + ", led by no process of the tree in its session, which a restore cannot give it back");
        }
    }

    /** Every thread id of every member: what must be free where the tree is restored. */
    public List<Integer> allTids() {
        return members.stream().flatMap(m -> m.tids().stream()).toList();
    }
}
