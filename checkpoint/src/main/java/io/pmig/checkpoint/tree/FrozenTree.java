package io.pmig.checkpoint.tree;

import io.pmig.checkpoint.UnsettledException;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.ptrace.FrozenProcess;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A process and all its descendants, each frozen ({@link FrozenProcess}). The freeze goes top-down and looks again
 * until it finds nothing new: a frozen process cannot fork, so a child forked before its parent was frozen is found
 * on the next look, and once a look finds every descendant frozen the set is closed and stays so. A descendant that
 * has ended and waits for its parent to reap it (a zombie) is kept as such: its parent, frozen, cannot reap it now.
 */
public final class FrozenTree {
    /** By host pid, each parent before its children; null for a zombie. */
    private final Map<Integer, FrozenProcess> members;

    private FrozenTree(Map<Integer, FrozenProcess> members) {
        this.members = members;
    }

    /** Freezes process {@code root} and every descendant; on failure nothing is left frozen. */
    public static FrozenTree freeze(int root) {
        Map<Integer, FrozenProcess> frozen = new LinkedHashMap<>();
        try {
            while (true) {
                List<Integer> found = new ArrayList<>(ProcessTree.hostPidsOf(root));
                found.removeAll(frozen.keySet());
                if (found.isEmpty()) {
                    break;
                }
                for (int pid : found) {
                    frozen.put(pid, ended(pid) ? null : FrozenProcess.freeze(pid));
                }
            }
        } catch (RuntimeException e) {
            new FrozenTree(frozen).thaw();
            throw e;
        }
        Map<Integer, FrozenProcess> ordered = new LinkedHashMap<>();
        for (int pid : ProcessTree.hostPidsOf(root)) {
            ordered.put(pid, frozen.get(pid));
        }
        return new FrozenTree(ordered);
    }

    private static boolean ended(int pid) {
        String state = new ProcFs(pid).status().getOrDefault("State", "");
        if (state.startsWith("X")) {
            throw new UnsettledException(SharingCheck.describe(pid) + " is being reaped by its parent");
        }
        return state.startsWith("Z");
    }

    public int rootPid() {
        return members.keySet().iterator().next();
    }

    /** Host pids, each parent before its children, zombies included. */
    public List<Integer> pids() {
        return List.copyOf(members.keySet());
    }

    /** The frozen members (not the zombies), each parent before its children. */
    public List<FrozenProcess> members() {
        return members.values().stream().filter(java.util.Objects::nonNull).toList();
    }

    /** The host pids of {@link #members()}. */
    public List<Integer> livePids() {
        return members().stream().map(FrozenProcess::pid).toList();
    }

    /** Begins moving every member into its park while the tree is read (see {@link FrozenProcess#startParking}). */
    public void startParking() {
        members().forEach(FrozenProcess::startParking);
    }

    /** Parks every member (see {@link FrozenProcess#park}). */
    public void park() {
        members().forEach(FrozenProcess::park);
    }

    /** Lets every member run on, the children first; the first failure is rethrown once all were tried. */
    public void thaw() {
        eachChildFirst(FrozenProcess::thaw);
    }

    /** Ends every member, the children first; none runs another instruction. */
    public void kill() {
        eachChildFirst(FrozenProcess::kill);
    }

    private void eachChildFirst(java.util.function.Consumer<FrozenProcess> action) {
        List<FrozenProcess> reversed = new ArrayList<>(members());
        java.util.Collections.reverse(reversed);
        RuntimeException first = null;
        for (FrozenProcess p : reversed) {
            try {
                action.accept(p);
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
