package io.pmig.checkpoint.ipc;

import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.SysvIpc;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestoreProgram;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

import java.util.ArrayList;
import java.util.List;

/**
 * System V semaphore sets. /proc names no creator of a set, only, per semaphore, the process that last changed it
 * (semctl GETPID, also set by SETVAL and SETALL, so a set its creator initialised names it): a set belongs to the tree
 * when one of its semaphores was last changed by a member, and one also last changed by a process that runs outside the
 * tree is refused. Saved: the values and who last changed each. Restored: each value set (SETVAL) by the member that
 * last changed it, or by the root, so the set names members again and moves with the tree next time.
 *
 * <p>Not carried: the adjustments the kernel keeps per process for operations made with SEM_UNDO (semadj, applied when
 * the process exits). No interface shows them from outside the process (/proc does not, semctl does not), so they
 * cannot be read; a restored process starts with none: one that took a semaphore with SEM_UNDO and dies after the move
 * does not give it back. The values themselves are exact.
 */
final class SysvSemaphores extends SysvKind<SysvSemaphores.Saved> {

    /** A set: each semaphore's value, and the member (its pid in the image) that last changed it, 0 if none did. */
    @ImageKind("sysv.sem")
    record Saved(SysvPerm perm, List<Integer> values, List<Integer> changedBy) implements SysvKind.Saved {
    }

    SysvSemaphores() {
        super("System V semaphore set", "sem", "semid", SysvIpc.SEMCTL, "-s", Saved.class);
    }

    @Override
    List<Integer> usedBy(SysvUsers tree) {
        List<Integer> out = new ArrayList<>();
        for (var row : SysvObjects.rows(table())) {
            int id = Integer.parseInt(row.get(idColumn()));
            int count = Integer.parseInt(row.get("nsems"));
            List<Integer> pids = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                pids.add(SysvIpc.semPid(id, i));
            }
            if (pids.stream().anyMatch(tree.members()::contains)) {
                String what = describe(row);
                pids.forEach(pid -> tree.requireNoOutsider(pid, what));
                out.add(id);
            }
        }
        return out;
    }

    @Override
    Saved save(int id, SysvUsers tree) {
        NativeMemory ds = SysvIpc.stat(noun() + " " + id, ctl(), id, SysvIpc.SEMID_DS_BYTES);
        int count = (int) ds.getLong(SysvIpc.SEM_NSEMS);
        short[] raw = SysvIpc.semValues(id, count);
        List<Integer> values = new ArrayList<>();
        List<Integer> changedBy = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            values.add(Short.toUnsignedInt(raw[i]));
            changedBy.add(tree.imagePid(SysvIpc.semPid(id, i)));
        }
        return new Saved(SysvPerm.of(id, ds), values, changedBy);
    }

    @Override
    int create(Saved saved) {
        SysvPerm perm = saved.perm();
        int id = (int) Syscall.call("semget(" + perm.describe() + ")", SysvIpc.SEMGET, perm.key(), saved.values().size(),
            SysvIpc.IPC_CREAT | SysvIpc.IPC_EXCL | (perm.mode() & 0777));
        if (id == perm.id()) {
            SysvIpc.set(noun() + " " + perm.describe(), ctl(), id, SysvIpc.stat(noun() + " " + id, ctl(), id, SysvIpc.SEMID_DS_BYTES),
                perm.uid(), perm.gid(), perm.mode());
        }
        return id;
    }

    @Override
    void replay(Saved saved, MemberPuppets members) {
        for (int i = 0; i < saved.values().size(); i++) {
            int value = saved.values().get(i);
            int by = saved.changedBy().get(i);
            if (value == 0 && by == 0) {
                continue; // as created: 0, changed by nobody
            }
            Puppet member = members.member(by);
            RestoreProgram p = member.newProgram();
            p.call("semctl(" + saved.perm().describe() + ", " + i + ", SETVAL, " + value + ")", SysvIpc.SEMCTL, saved.perm().id(), i,
                SysvIpc.SETVAL, value);
            member.run(p);
        }
    }
}
