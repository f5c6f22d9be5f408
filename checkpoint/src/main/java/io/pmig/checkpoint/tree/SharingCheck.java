package io.pmig.checkpoint.tree;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Never split a service: refuses a set of processes to be moved when any of them has a child outside
 * the set, or shares a kernel object with a process outside it. What is shared and how it is found:
 * <ul>
 * <li>the descriptor table, address space, signal handlers or filesystem context (clone's CLONE_FILES,
 * CLONE_VM, CLONE_SIGHAND, CLONE_FS), compared with kcmp(2);</li>
 * <li>an open object: the same socket or pipe (either end, FIFOs included) by its /proc link, any other
 * open file description (dup'ed or inherited across fork) by kcmp(2). Two descriptions need no
 * coordination and are let through: a character device such as /dev/null, and a regular file opened
 * write-only for appending (a shared log), whose writes go to its end whatever the offset;</li>
 * <li>shared memory: a MAP_SHARED anonymous, System V, memfd or tmpfs mapping of the same object, or a
 * MAP_SHARED file mapping either side can write;</li>
 * <li>a file lock (POSIX, flock, lease) on a file an outside process also locks or waits for, from
 * /proc/locks.</li>
 * </ul>
 * A moved copy would otherwise run on with its own copy of the object while the processes left behind
 * keep the original: the service works on, split, and nobody is told.
 */
public final class SharingCheck {
    /** The clone(2) sharing kcmp(2) can compare, and how a refusal names each. */
    private static final Map<Integer, String> SHARED_CONTEXTS = Map.of(
        Linux.KCMP_FILES, "its descriptor table (CLONE_FILES)",
        Linux.KCMP_VM, "its address space (CLONE_VM)",
        Linux.KCMP_SIGHAND, "its signal handlers (CLONE_SIGHAND)",
        Linux.KCMP_FS, "its working directory, root and umask (CLONE_FS)");
    /** S_IFMT and the types of stat(2)'s st_mode (linux/stat.h). */
    private static final int S_IFMT = 0170000;
    private static final int S_IFCHR = 0020000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFIFO = 0010000;
    /** /proc/PID/stat field 9, the task's flags: a kernel thread (linux/sched.h). */
    private static final long PF_KTHREAD = 0x00200000;
    private static final String REMEDY = "; moving one without the other would split the service";
    /**
     * The fdinfo and syscall files looked at for a lock before /proc/locks is read instead: about 10 us each, against
     * the 5-25 ms of /proc/locks (a tree of hundreds of processes reads /proc/locks).
     */
    private static final int LOCK_SCREENING_READS = 256;

    private SharingCheck() {
    }

    /**
     * Refuses, naming both processes and the resource, unless the processes {@code all} share nothing with any other
     * process. A zombie among them (ended, not reaped) holds nothing: only its place in the tree is looked at.
     */
    public static void requireSelfContained(Set<Integer> all) {
        requireChildrenInside(all);
        Set<Integer> moved = new java.util.HashSet<>(all);
        moved.removeIf(ProcessTree::ended);
        PidNamespaces.requireOwnedByMovedAlone(moved);
        TimeNamespaces.requireOwnedByMovedAlone(moved);
        EngineNamespaces.requireEngines(moved);
        ServiceManagers.requireNoUnitsMainProcess(moved);
        List<Integer> others = new ArrayList<>();
        for (int pid : ProcFs.allPids()) {
            if (!all.contains(pid) && !isKernelThread(pid)) {
                others.add(pid);
            }
        }
        requireNoSharedContext(moved, others);
        requireNoContextSharedWithin(moved);
        requireNoSharedFiles(moved, others);
        requireNoSharedMemory(moved, others);
        requireNoSharedLocks(moved);
    }

    /**
     * Refuses if a process of {@code moved} has a child that is not in it. Cheap (a read per thread), so
     * that a frozen set can be checked again: a fork that raced the freeze cannot slip through.
     */
    public static void requireChildrenInside(Set<Integer> moved) {
        for (int pid : moved) {
            for (int child : new ProcFs(pid).children()) {
                if (!moved.contains(child)) {
                    throw new RefusedException(describe(pid) + " has a child, " + describe(child)
                        + ", outside the processes being moved: moving the parent without it would leave it behind; move the"
                        + " whole tree (its root's pid)");
                }
            }
        }
    }

    private static void requireNoSharedContext(Set<Integer> moved, List<Integer> others) {
        for (int pid : moved) {
            for (int other : others) {
                for (Map.Entry<Integer, String> context : SHARED_CONTEXTS.entrySet()) {
                    if (Linux.shareObject(pid, other, context.getKey())) {
                        throw new RefusedException(describe(pid) + " shares " + context.getValue() + " with " + describe(other)
                            + ", which is not being moved" + REMEDY);
                    }
                }
            }
        }
    }

    /**
     * Two processes of the tree sharing an address space, signal handlers or filesystem context (clone without
     * CLONE_THREAD, a vfork child before its exec) would each be restored with its own: refused until a restore can share
     * them again. A descriptor table is created shared again where each process shares its parent's, up to one
     * process that owns it (clone with CLONE_FILES alone); two that share one otherwise are refused too.
     */
    private static void requireNoContextSharedWithin(Set<Integer> moved) {
        List<Integer> members = new ArrayList<>(new TreeSet<>(moved));
        Map<Integer, Integer> tableOwners = new HashMap<>();
        members.forEach(pid -> tableOwners.put(pid, tableOwner(pid, moved)));
        for (int i = 0; i < members.size(); i++) {
            for (int j = i + 1; j < members.size(); j++) {
                for (Map.Entry<Integer, String> context : SHARED_CONTEXTS.entrySet()) {
                    if (context.getKey() == Linux.KCMP_FILES && tableOwners.get(members.get(i)).equals(tableOwners.get(members.get(j)))) {
                        continue;
                    }
                    if (Linux.shareObject(members.get(i), members.get(j), context.getKey())) {
                        throw new RefusedException(describe(members.get(i)) + " shares " + context.getValue() + " with "
                            + describe(members.get(j)) + " of the same tree, which a restore cannot share again yet (each"
                            + " would have its own); retry once the two are apart (a vfork child once it has exec'ed)");
                    }
                }
            }
        }
    }

    /** The highest ancestor of {@code pid} among {@code moved} reached through parents that share its descriptor table. */
    private static int tableOwner(int pid, Set<Integer> moved) {
        int owner = pid;
        for (int parent = new ProcFs(owner).parent(); moved.contains(parent) && Linux.shareObject(owner, parent, Linux.KCMP_FILES);
                parent = new ProcFs(owner).parent()) {
            owner = parent;
        }
        return owner;
    }

    /** One descriptor of a moved process that another process may share. */
    private record Held(int pid, int fd, String link, boolean byLinkAlone) {
    }

    private static void requireNoSharedFiles(Set<Integer> moved, List<Integer> others) {
        Map<String, List<Held>> byLink = new HashMap<>();
        for (int pid : moved) {
            ProcFs proc = new ProcFs(pid);
            for (int fd : proc.fds()) {
                String link = readLink(proc.path("fd/" + fd));
                if (link == null) {
                    continue;                               // closed meanwhile
                }
                boolean object = link.startsWith("socket:[") || link.startsWith("pipe:[") || isFifo(proc.path("fd/" + fd));
                if (object || needsItsOwnDescription(proc, fd)) {
                    byLink.computeIfAbsent(link, k -> new ArrayList<>()).add(new Held(pid, fd, link, object));
                }
            }
        }
        if (byLink.isEmpty()) {
            return;
        }
        for (int other : others) {
            ProcFs proc = new ProcFs(other);
            for (int fd : fdsOf(proc)) {
                String link = readLink(proc.path("fd/" + fd));
                List<Held> same = link == null ? null : byLink.get(link);
                if (same == null) {
                    continue;
                }
                for (Held h : same) {
                    if (h.byLinkAlone() || Linux.shareFile(h.pid(), h.fd(), other, fd)) {
                        throw new RefusedException("fd " + h.fd() + " of " + describe(h.pid()) + " (" + h.link() + ") is also open in "
                            + describe(other) + " as its fd " + fd + ", which is not being moved" + REMEDY);
                    }
                }
            }
        }
    }

    /** A description whose sharing matters: all but character devices and regular files opened write-only for appending. */
    private static boolean needsItsOwnDescription(ProcFs proc, int fd) {
        Integer mode = modeOf(proc.path("fd/" + fd));
        if (mode == null || (mode & S_IFMT) == S_IFCHR) {
            return false;
        }
        if ((mode & S_IFMT) != S_IFREG) {
            return true;
        }
        String flags;
        try {
            flags = ProcFs.keyValues(proc.read("fdinfo/" + fd)).get("flags");
        } catch (UncheckedIOException e) {
            return false;                                   // closed meanwhile
        }
        int f = Integer.parseInt(flags, 8);
        return (f & Linux.O_ACCMODE) != Linux.O_WRONLY || (f & Linux.O_APPEND) == 0;
    }

    /** The identity of a shared mapping's object, and the mapping that holds it. */
    private record SharedMapping(int pid, MapsEntry entry) {
        String key() {
            return key(entry);
        }

        static String key(MapsEntry e) {
            return e.devMajor() + ":" + e.devMinor() + ":" + e.inode();
        }

        /** Anonymous shared memory, System V or memfd: the object is the memory itself, written or not. */
        boolean memoryObject() {
            String path = entry.path();
            return !path.startsWith("/") || path.startsWith("/SYSV") || path.startsWith("/memfd:") || path.startsWith("/dev/zero")
                || path.startsWith("/dev/shm/");
        }
    }

    private static void requireNoSharedMemory(Set<Integer> moved, List<Integer> others) {
        Map<String, SharedMapping> mine = new HashMap<>();
        for (int pid : moved) {
            for (MapsEntry e : new ProcFs(pid).maps()) {
                if (e.shared() && e.inode() != 0) {
                    mine.putIfAbsent(SharedMapping.key(e), new SharedMapping(pid, e));
                }
            }
        }
        if (mine.isEmpty()) {
            return;
        }
        for (int other : others) {
            List<MapsEntry> maps;
            try {
                maps = new ProcFs(other).maps();
            } catch (UncheckedIOException e) {
                continue;                                   // gone meanwhile
            }
            for (MapsEntry e : maps) {
                SharedMapping m = e.shared() ? mine.get(SharedMapping.key(e)) : null;
                if (m != null && (m.memoryObject() || m.entry().writable() || e.writable())) {
                    throw new RefusedException(describe(m.pid()) + " maps shared memory " + name(m.entry()) + " at 0x"
                        + Long.toHexString(m.entry().start()) + " that " + describe(other) + " maps too, which is not being moved"
                        + REMEDY);
                }
            }
        }
    }

    private static void requireNoSharedLocks(Set<Integer> moved) {
        // reading /proc/locks waits for an RCU grace period (fs/locks.c, locks_start takes file_rwsem for writing):
        // 5-25 ms of every checkpoint here, spent only when a moved process may hold or wait for a lock
        int[] reads = {LOCK_SCREENING_READS};
        if (moved.stream().noneMatch(pid -> holdsALock(pid, reads) || waitsForALock(pid, reads))) {
            return;
        }
        Map<String, Integer> lockedByMoved = new HashMap<>();
        Map<String, Integer> lockedByOthers = new HashMap<>();
        String locks;
        try {
            locks = Files.readString(Path.of("/proc/locks"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/locks", e);
        }
        for (String line : locks.split("\n")) {
            // "1: POSIX  ADVISORY  WRITE 4242 08:01:1234 0 EOF", a waiter as "1: -> POSIX ..." (fs/locks.c)
            String[] f = line.trim().split("\\s+");
            int at = f.length > 1 && f[1].equals("->") ? 2 : 1;
            if (f.length < at + 5) {
                continue;
            }
            int pid = Integer.parseInt(f[at + 3]);
            String file = f[at + 4];
            if (pid > 0) {
                (moved.contains(pid) ? lockedByMoved : lockedByOthers).putIfAbsent(file, pid);
            }
        }
        for (Map.Entry<String, Integer> lock : lockedByMoved.entrySet()) {
            Integer other = lockedByOthers.get(lock.getKey());
            if (other != null) {
                throw new RefusedException(describe(lock.getValue()) + " locks the file with device:inode " + lock.getKey()
                    + " that " + describe(other) + " locks too (/proc/locks), which is not being moved" + REMEDY);
            }
        }
    }

    /**
     * Whether a descriptor of {@code pid} shows a lock taken through it (fdinfo "lock:" lines, fs/locks.c show_fd_locks),
     * or the screening's {@code reads} are spent (then /proc/locks is the cheaper way to know). Sockets and pipes are not
     * looked at: another process locking one would have it open, which is refused already.
     */
    private static boolean holdsALock(int pid, int[] reads) {
        ProcFs proc = new ProcFs(pid);
        for (int fd : fdsOf(proc)) {
            String link = readLink(proc.path("fd/" + fd));
            if (link == null || link.startsWith("socket:[") || link.startsWith("pipe:[")) {
                continue;
            }
            if (--reads[0] < 0) {
                return true;
            }
            try {
                if (proc.read("fdinfo/" + fd).contains("\nlock:")) {
                    return true;
                }
            } catch (UncheckedIOException e) {
                // closed meanwhile
            }
        }
        return false;
    }

    /**
     * Whether a thread of {@code pid} is blocked taking a lock (in fcntl F_SETLKW or F_OFD_SETLKW, or flock without
     * LOCK_NB), or the screening's {@code reads} are spent.
     */
    private static boolean waitsForALock(int pid, int[] reads) {
        ProcFs proc = new ProcFs(pid);
        for (int tid : proc.tasks()) {
            if (--reads[0] < 0) {
                return true;
            }
            String[] call;
            try {
                // "72 0x3 0x7 0x7ffc..." (the number, then the arguments), "running", or "-1 ..." outside a system call
                call = proc.read("task/" + tid + "/syscall").trim().split(" ");
            } catch (UncheckedIOException e) {
                continue;                                   // ended meanwhile
            }
            if (call.length < 3 || !call[0].matches("\\d+")) {
                continue;
            }
            int nr = Integer.parseInt(call[0]);
            long operation = Long.decode(call[2]);
            if (nr == Nr.FCNTL && (operation == Linux.F_SETLKW || operation == Linux.F_OFD_SETLKW)
                    || nr == Nr.FLOCK && (operation & Linux.LOCK_NB) == 0) {
                return true;
            }
        }
        return false;
    }

    private static String name(MapsEntry e) {
        return e.path().isEmpty() ? "(anonymous, inode " + e.inode() + ")" : e.path();
    }

    /** "process 42 (nginx)", or "process 42" once it is gone. */
    static String describe(int pid) {
        try {
            return "process " + pid + " (" + new ProcFs(pid).stat()[2] + ")";
        } catch (UncheckedIOException e) {
            return "process " + pid;
        }
    }

    private static boolean isKernelThread(int pid) {
        try {
            return (Long.parseLong(new ProcFs(pid).stat()[9]) & PF_KTHREAD) != 0;
        } catch (UncheckedIOException e) {
            return true;                                    // gone: nothing to share
        }
    }

    private static TreeSet<Integer> fdsOf(ProcFs proc) {
        try {
            return proc.fds();
        } catch (UncheckedIOException e) {
            return new TreeSet<>();                         // gone meanwhile
        }
    }

    private static String readLink(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            return null;
        }
    }

    private static boolean isFifo(Path fd) {
        Integer mode = modeOf(fd);
        return mode != null && (mode & S_IFMT) == S_IFIFO;
    }

    /** st_mode of what descriptor link {@code fd} refers to, or null if it is gone. */
    private static Integer modeOf(Path fd) {
        try {
            return (Integer) Files.getAttribute(fd, "unix:mode");
        } catch (IOException e) {
            return null;                                    // closed meanwhile
        }
    }
}
