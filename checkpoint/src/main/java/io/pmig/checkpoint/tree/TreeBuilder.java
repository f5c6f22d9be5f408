package io.pmig.checkpoint.tree;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestoreProgram;
import io.pmig.checkpoint.task.ProcessImage;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Creates a process tree for its restore, member by member: each is forked by its restored parent once the parent's
 * address space is built (so the parent links, and with them wait(2) and SIGCHLD, are the original's, and the pages they
 * shared are shared again) with its own pid, and takes its session or process group before it forks its own children,
 * who inherit them as they did.
 */
public final class TreeBuilder {
    private TreeBuilder() {
    }

    /** The tree an image's first objects describe, or null for an image of a single process. */
    public static ProcessTree treeOf(ImageObjects objects) {
        List<ProcessTree> trees = objects.all(ProcessTree.class);
        if (trees.size() > 1) {
            throw new RefusedException("the image describes " + trees.size() + " process trees; an image holds one");
        }
        return trees.isEmpty() || trees.get(0).members().size() < 2 ? null : trees.get(0);
    }

    /**
     * The live members of {@code tree} (null: the root alone) one by one, {@code root} first: {@link Forker#next} forks the
     * next from its parent's puppet only then, so that a parent whose address space was built before gives its child its
     * pages copy-on-write, as the original fork did ({@link io.pmig.checkpoint.memory.InheritedPages}). Each new one goes
     * to {@code adopt} at once, so that a failure later kills it too. A zombie on the way is forked and ends at once, as
     * it had, for its parent to reap.
     */
    public static Forker forker(Puppet root, ProcessTree tree, Consumer<Puppet> adopt) {
        return new Forker(root, tree, adopt);
    }

    /** See {@link #forker}. */
    public static final class Forker {
        private final ProcessTree tree;
        private final Consumer<Puppet> adopt;
        private final Map<Integer, Puppet> puppets = new HashMap<>();
        private final Map<Integer, ProcessTree.Member> members = new HashMap<>();
        private int next = 1;
        private ProcessTree.Member current;
        private Puppet currentPuppet;

        private Forker(Puppet root, ProcessTree tree, Consumer<Puppet> adopt) {
            this.tree = tree;
            this.adopt = adopt;
            // the root leads a session of its own already, as every restored process does (pmig-restorer)
            current = tree == null ? null : tree.root();
            currentPuppet = root;
            if (tree != null) {
                puppets.put(current.pid(), root);
                members.put(current.pid(), current);
            }
        }

        /** The member last reached (the root first), or null for a process alone. */
        public ProcessTree.Member member() {
            return current;
        }

        /** Its puppet. */
        public Puppet puppet() {
            return currentPuppet;
        }

        /** Forks the next live member (the zombies before it on the way) and returns its puppet; null after the last. */
        public Puppet next() {
            while (tree != null && next < tree.members().size()) {
                ProcessTree.Member m = tree.members().get(next++);
                Puppet parent = puppets.get(m.ppid());
                if (parent == null) {
                    throw new FailedException("process " + m.pid() + " of the image has parent " + m.ppid()
                        + ", which the tree creates after it or not at all; the image is inconsistent");
                }
                Puppet child = forkMember(parent, m, members.get(m.ppid()), adopt);
                members.put(m.pid(), m);
                if (child != null) {
                    puppets.put(m.pid(), child);
                    current = m;
                    currentPuppet = child;
                    return child;
                }
            }
            return null;
        }
    }

    /**
     * Forks member {@code m} from its parent's puppet ({@code parentMember} in the tree), hands it to {@code adopt} at
     * once, and gives it its session or group; returns it, or null for a zombie, which ends at once as it had.
     */
    public static Puppet forkMember(Puppet parent, ProcessTree.Member m, ProcessTree.Member parentMember, Consumer<Puppet> adopt) {
        Puppet child = parent.forkChild(m.pid(), m.parentFiles());
        adopt.accept(child);
        takeSessionAndGroup(child, m, parentMember);
        if (m.zombie()) {
            child.endAs(m.exitStatus(), m.pid());
            return null;
        }
        return child;
    }

    /**
     * A member leads its session or group again, or joins another member's group; otherwise it keeps what it inherited
     * from its parent (a session or group the root's original had outside the tree is the restored root's own).
     */
    private static void takeSessionAndGroup(Puppet puppet, ProcessTree.Member m, ProcessTree.Member parent) {
        RestoreProgram p = puppet.newProgram();
        if (m.sid() == m.pid()) {
            p.call("setsid for process " + m.pid(), Nr.SETSID);
        } else if (m.pgid() == m.pid()) {
            p.call("setpgid for process " + m.pid() + " (its own group)", Nr.SETPGID, 0, 0);
        } else if (m.pgid() != parent.pgid()) {
            p.call("setpgid for process " + m.pid() + " (group " + m.pgid() + ")", Nr.SETPGID, 0, m.pgid());
        }
        puppet.run(p);
    }

    /**
     * The pids of the members forked after the root is launched: one the kernel hands out meanwhile (to the restorer's own
     * launch, say) fails the fork, so a restore that may choose a PID namespace takes one when they may be handed out soon.
     */
    public static List<Integer> forkedPids(ProcessTree tree) {
        return tree.members().stream().skip(1).map(ProcessTree.Member::pid).toList();
    }

    /** Refuses a member's image that is not the one the tree names next. */
    public static void requireMember(ProcessTree.Member expected, ProcessImage image) {
        if (image.pid() != expected.pid()) {
            throw new FailedException("the image of process " + image.pid() + " came where the tree names process "
                + expected.pid() + "; the image is inconsistent");
        }
    }
}
