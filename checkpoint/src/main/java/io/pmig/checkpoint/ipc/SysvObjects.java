package io.pmig.checkpoint.ipc;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.nativeio.SysvIpc;
import io.pmig.checkpoint.ptrace.FrozenProcess;
import io.pmig.checkpoint.restore.Puppet;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The System V IPC objects a process tree uses (shared memory, semaphore sets, message queues: one {@link SysvKind}
 * each), saved with the tree and made again with the same ids and keys. Which objects belong to the tree, and which are
 * refused because a process outside it uses them too, each kind says. At checkpoint they are found before anything is
 * touched and saved while the tree is frozen, into the root's image; nothing of them changes, so a checkpoint that is
 * aborted leaves them as they were, and one that is committed removes them with the original (IPC_RMID). At restore,
 * an id or key taken on this host is refused by name before anything is made; then the {@code *_next_id} sysctl of the
 * kind names the id the next object gets (the restoring process's IPC namespace), and the object is created with its
 * key, owner and mode. A process in an IPC namespace other than the engine's is refused: /proc/sysvipc shows the
 * engine's objects, not its, and a restore makes them in the restoring engine's namespace.
 */
public final class SysvObjects {
    private static final List<SysvKind<?>> KINDS = List.of(new SysvSharedMemory(), new SysvSemaphores(), new SysvMessageQueues());
    /** IPCMNI (ipc/util.h): the kernel places an object at id % IPCMNI, so that index must be free for the id. */
    private static final int IPCMNI = 32768;
    /** Setting a next id and creating the object are one step among the engine's threads. */
    private static final Object NEXT_ID = new Object();

    private final SysvUsers users;
    private final Map<SysvKind<?>, List<Integer>> used;
    private final List<SysvKind.Saved> saved = new ArrayList<>();

    private SysvObjects(SysvUsers users, Map<SysvKind<?>, List<Integer>> used) {
        this.users = users;
        this.used = used;
    }

    /**
     * The objects the processes {@code hostPids} (a tree, the root first) use; refuses, by name, one that a process
     * outside them uses too. Touches nothing.
     */
    public static SysvObjects usedBy(List<Integer> hostPids) {
        SysvUsers users = SysvUsers.of(hostPids);
        users.requireEnginesIpcNamespace();
        Map<SysvKind<?>, List<Integer>> used = new LinkedHashMap<>();
        for (SysvKind<?> kind : KINDS) {
            used.put(kind, kind.usedBy(users));
        }
        return new SysvObjects(users, used);
    }

    /** The first object, by name ("System V message queue id 3"), or null if there is none. */
    public String first() {
        return used.entrySet().stream().filter(e -> !e.getValue().isEmpty()).findFirst()
            .map(e -> e.getKey().noun() + " id " + e.getValue().get(0)).orElse(null);
    }

    /**
     * Saves every object (the tree is frozen, {@code frozen} its live members, still under this tracer): the image
     * objects, in the order a restore makes them.
     */
    public List<Object> save(List<FrozenProcess> frozen) {
        for (Map.Entry<SysvKind<?>, List<Integer>> e : used.entrySet()) {
            saved.addAll(e.getKey().save(e.getValue(), users, frozen));
        }
        return List.copyOf(saved);
    }

    /** The original is gone (committed): its objects go with it. One already removed is left. */
    public void removeOriginals() {
        for (SysvKind.Saved s : saved) {
            SysvIpc.remove(kindOf(s).ctl(), s.perm().id());
        }
    }

    // ---- restore ----

    /** Refuses, before anything is made, an image whose objects' ids or keys are taken on this host, naming them. */
    public static void precheck(ImageObjects image) {
        for (SysvKind<?> kind : KINDS) {
            List<? extends SysvKind.Saved> wanted = image.all(kind.savedClass());
            if (wanted.isEmpty()) {
                continue;
            }
            if (!Files.exists(nextId(kind))) {
                throw new RefusedException("the image holds a " + kind.noun() + ", which this kernel cannot give its id back: it lacks "
                    + nextId(kind) + " (CONFIG_CHECKPOINT_RESTORE)");
            }
            List<Map<String, String>> here = rows(kind.table());
            for (SysvKind.Saved s : wanted) {
                for (Map<String, String> row : here) {
                    int id = Integer.parseInt(row.get(kind.idColumn()));
                    int key = Integer.parseInt(row.get("key"));
                    boolean sameId = id % IPCMNI == s.perm().id() % IPCMNI;
                    if (sameId || (s.perm().key() != SysvIpc.IPC_PRIVATE && key == s.perm().key())) {
                        throw new RefusedException(kind.noun() + " " + s.perm().describe() + " of the image cannot be made again "
                            + "here: this host's " + kind.describe(row) + " (owner uid " + row.get("uid") + ") takes its "
                            + (sameId ? "id" : "key") + "; remove that one (ipcrm " + kind.ipcrmOption() + " " + id + ") or restore "
                            + "where it is free");
                    }
                }
            }
        }
    }

    /** Refuses an image that holds System V objects where they cannot be made ({@code where}: a pre-copy's last part). */
    public static void refuseIn(ImageObjects image, String where) {
        for (SysvKind<?> kind : KINDS) {
            image.all(kind.savedClass()).stream().findFirst().ifPresent(s -> {
                throw new RefusedException("the process uses " + kind.noun() + " " + s.perm().describe() + ", which " + where
                    + " does not carry yet; migrate it in bundle mode");
            });
        }
    }

    /**
     * Makes the image's objects again with their ids and keys (its pre-check passed), before any member builds its
     * mappings. A failure removes what was made.
     */
    public static Recreated recreate(ImageObjects image) {
        Recreated made = new Recreated();
        try {
            for (SysvKind<?> kind : KINDS) {
                for (SysvKind.Saved s : image.all(kind.savedClass())) {
                    made.add(kind, s, create(kind, s));
                }
            }
        } catch (RuntimeException e) {
            made.removeAll();
            throw e;
        }
        return made;
    }

    /** What a restore made, removed again if it fails. */
    public static final class Recreated {
        private final List<Made> objects = new ArrayList<>();

        private void add(SysvKind<?> kind, SysvKind.Saved saved, int id) {
            objects.add(new Made(kind, saved, id));
        }

        /**
         * Every member exists with its mappings: each makes the last operations it made on the objects ({@code members}:
         * the root and the other members, by their pid in the image), and a segment removed while attached is removed
         * again (it lives while attached).
         */
        public void membersBuilt(Puppet root, Map<Integer, Puppet> members) {
            for (Made m : objects) {
                replay(m.kind(), m.saved(), imagePid -> members.getOrDefault(imagePid, root));
            }
            for (Made m : objects) {
                if (m.saved() instanceof SysvSharedMemory.Saved shm && SysvSharedMemory.removedWhileAttached(shm)) {
                    SysvIpc.remove(m.kind().ctl(), m.id());
                }
            }
        }

        /** The restore failed: nothing it made stays. */
        public void removeAll() {
            for (Made m : objects) {
                SysvIpc.remove(m.kind().ctl(), m.id());
            }
            objects.clear();
        }
    }

    private record Made(SysvKind<?> kind, SysvKind.Saved saved, int id) {
    }

    @SuppressWarnings("unchecked")
    private static <S extends SysvKind.Saved> int create(SysvKind<S> kind, SysvKind.Saved saved) {
        SysvPerm perm = saved.perm();
        synchronized (NEXT_ID) {
            try {
                Files.writeString(nextId(kind), Integer.toString(perm.id()));
            } catch (IOException e) {
                throw new FailedException("cannot set " + nextId(kind) + " to make " + kind.noun() + " " + perm.describe() + ": " + e, e);
            }
            int id;
            try {
                id = kind.create((S) saved);
            } finally {
                resetNextId(kind);
            }
            if (id != perm.id()) {
                SysvIpc.remove(kind.ctl(), id);
                throw new FailedException(kind.noun() + " " + perm.describe() + " came out as id " + id + " on this host (another was "
                    + "made at its id meanwhile)");
            }
            return id;
        }
    }

    @SuppressWarnings("unchecked")
    private static <S extends SysvKind.Saved> void replay(SysvKind<S> kind, SysvKind.Saved saved, SysvKind.MemberPuppets members) {
        kind.replay((S) saved, members);
    }

    /** A create that failed leaves the next id set; the kernel resets it to -1 only when it is used. */
    private static void resetNextId(SysvKind<?> kind) {
        try {
            Files.writeString(nextId(kind), "-1");
        } catch (IOException ignored) {
            // the kernel reset it when it gave the id out
        }
    }

    private static SysvKind<?> kindOf(SysvKind.Saved saved) {
        return KINDS.stream().filter(k -> k.savedClass() == saved.getClass()).findFirst().orElseThrow();
    }

    private static Path nextId(SysvKind<?> kind) {
        return Path.of("/proc/sys/kernel/" + kind.table() + "_next_id");
    }

    /** The rows of /proc/sysvipc/{@code table}, each by the header's column names: the objects of this IPC namespace. */
    static List<Map<String, String>> rows(String table) {
        Path file = Path.of("/proc/sysvipc", table);
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new FailedException("cannot read " + file + ": " + e, e);
        }
        List<Map<String, String>> out = new ArrayList<>();
        if (lines.isEmpty()) {
            return out;
        }
        String[] header = lines.get(0).trim().split("\\s+");
        for (String line : lines.subList(1, lines.size())) {
            String[] fields = line.trim().split("\\s+");
            if (fields.length < header.length) {
                continue;
            }
            Map<String, String> row = new HashMap<>();
            for (int i = 0; i < header.length; i++) {
                row.put(header[i], fields[i]);
            }
            out.add(row);
        }
        return out;
    }
}
