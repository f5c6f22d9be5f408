package io.pmig.checkpoint.ipc;

import io.pmig.checkpoint.restore.Puppet;

import java.util.List;

/**
 * One kind of System V IPC object (shared memory, semaphore sets, message queues): which objects a tree uses, what is
 * saved of one, and how it is made again with the same id and key. {@code S}: the image object of one.
 */
interface SysvKind<S extends SysvKind.Saved> {
    /** The image object of one saved object. */
    interface Saved {
        SysvPerm perm();
    }

    /** "System V message queue", for messages. */
    String noun();

    /** Its table in /proc/sysvipc and the prefix of its {@code *_next_id} sysctl: shm, sem or msg. */
    String table();

    /** The id's column in that table: shmid, semid or msqid. */
    String idColumn();

    /** The ctl call of the kind (shmctl, semctl, msgctl). */
    int ctl();

    /** {@code ipcrm} option that removes one, for the remedy of a refusal. */
    String ipcrmOption();

    Class<S> savedClass();

    /** "System V message queue id 3 (key 0x504d0001)" for a row of /proc/sysvipc. */
    default String describe(java.util.Map<String, String> row) {
        return noun() + " id " + row.get(idColumn()) + " (key " + String.format("0x%08x", Integer.parseInt(row.get("key"))) + ")";
    }

    /** The ids of the objects the tree uses; refuses, by name, one that a process outside it uses too. Touches nothing. */
    List<Integer> usedBy(SysvUsers tree);

    /** Saves object {@code id} of the frozen tree; changes nothing of it. */
    S save(int id, SysvUsers tree);

    /** Creates {@code saved} here: {@link SysvObjects} set the next id; returns the new id (the caller checks it is the saved one). */
    int create(S saved);

    /** What members do once the object exists (the last operations as they were made: by the member that made them). */
    void replay(S saved, MemberPuppets members);

    /** The puppets of a tree being restored, by the pid the image gives each (as it numbers itself). */
    interface MemberPuppets {
        /** The member whose pid was {@code imagePid}, or the root if none is (0: none recorded). */
        Puppet member(int imagePid);
    }
}
