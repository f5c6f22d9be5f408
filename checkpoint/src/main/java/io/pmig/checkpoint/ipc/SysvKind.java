package io.pmig.checkpoint.ipc;

import io.pmig.checkpoint.ptrace.FrozenProcess;
import io.pmig.checkpoint.restore.Puppet;

import java.util.List;

/**
 * One kind of System V IPC object (shared memory, semaphore sets, message queues): which objects a tree uses, what is
 * saved of one, and how it is made again with the same id and key. {@code S}: the image object of one.
 */
abstract class SysvKind<S extends SysvKind.Saved> {
    /** The image object of one saved object. */
    interface Saved {
        SysvPerm perm();
    }

    private final String noun;
    private final String table;
    private final String idColumn;
    private final int ctl;
    private final String ipcrmOption;
    private final Class<S> savedClass;

    /**
     * {@code noun}: "System V message queue", for messages; {@code table}: its table in /proc/sysvipc and the prefix of its
     * {@code *_next_id} sysctl; {@code idColumn}: the id's column there; {@code ctl}: its ctl call (shmctl, semctl,
     * msgctl); {@code ipcrmOption}: what makes {@code ipcrm} remove one, for the remedy of a refusal.
     */
    SysvKind(String noun, String table, String idColumn, int ctl, String ipcrmOption, Class<S> savedClass) {
        this.noun = noun;
        this.table = table;
        this.idColumn = idColumn;
        this.ctl = ctl;
        this.ipcrmOption = ipcrmOption;
        this.savedClass = savedClass;
    }

    final String noun() {
        return noun;
    }

    final String table() {
        return table;
    }

    final String idColumn() {
        return idColumn;
    }

    final int ctl() {
        return ctl;
    }

    final String ipcrmOption() {
        return ipcrmOption;
    }

    final Class<S> savedClass() {
        return savedClass;
    }

    /** "System V message queue id 3 (key 0x504d0001)" for a row of /proc/sysvipc. */
    final String describe(java.util.Map<String, String> row) {
        return noun() + " id " + row.get(idColumn()) + " (key " + String.format("0x%08x", Integer.parseInt(row.get("key"))) + ")";
    }

    /** The ids of the objects the tree uses; refuses, by name, one that a process outside it uses too. Touches nothing. */
    abstract List<Integer> usedBy(SysvUsers tree);

    /** Saves object {@code id} of the frozen tree; changes nothing of it. */
    abstract S save(int id, SysvUsers tree);

    /**
     * Saves the objects {@code ids} of the frozen tree, whose live members are {@code frozen} (stopped under this
     * tracer, for what only they can tell); changes nothing of them.
     */
    List<S> save(List<Integer> ids, SysvUsers tree, List<FrozenProcess> frozen) {
        return ids.stream().map(id -> save(id, tree)).toList();
    }

    /** Creates {@code saved} here: {@link SysvObjects} set the next id; returns the new id (the caller checks it is the saved one). */
    abstract int create(S saved);

    /** What members do once the object exists (the last operations as they were made: by the member that made them). */
    abstract void replay(S saved, MemberPuppets members);

    /** The puppets of a tree being restored, by the pid the image gives each (as it numbers itself). */
    interface MemberPuppets {
        /** The member whose pid was {@code imagePid}, or the root if none is (0: none recorded). */
        Puppet member(int imagePid);
    }
}
