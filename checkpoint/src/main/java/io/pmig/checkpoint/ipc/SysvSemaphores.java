package io.pmig.checkpoint.ipc;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.SysvIpc;
import io.pmig.checkpoint.ptrace.FrozenProcess;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestoreProgram;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * System V semaphore sets. /proc names no creator of a set, only, per semaphore, the process that last changed it
 * (semctl GETPID, also set by SETVAL and SETALL, so a set its creator initialised names it): a set belongs to the tree
 * when one of its semaphores was last changed by a member, and one also last changed by a process that runs outside the
 * tree is refused. Saved: the values, who last changed each, and each member's adjustments for its operations made
 * with SEM_UNDO (semadj, which the kernel applies when the process exits), read by probing semops the frozen member
 * makes that change nothing ({@link SemaphoreAdjustments}), so an aborted checkpoint leaves every process and set as it
 * was. Restored: each value set (SETVAL, which clears every adjustment of the semaphore: so first) by the member that
 * last changed it, or by the root; then each member makes its adjustments with value-neutral semops of its own; then
 * the last changer of a semaphore so adjusted touches it again, so the set names the same members and moves with the
 * tree next time.
 */
final class SysvSemaphores extends SysvKind<SysvSemaphores.Saved> {

    /**
     * A set: each semaphore's value, the member (its pid in the image) that last changed it, 0 if none did, and the
     * members with adjustments on it (absent from images that carry none, and from those made before they were).
     */
    @ImageKind("sysv.sem")
    record Saved(SysvPerm perm, List<Integer> values, List<Integer> changedBy, @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Undo> undo)
        implements SysvKind.Saved {
        Saved {
            undo = undo == null ? List.of() : List.copyOf(undo);
            for (Undo u : undo) {
                if (u.adjustments().size() != values.size()
                    || u.adjustments().stream().anyMatch(a -> a < -SysvIpc.SEMAEM - 1 || a > SysvIpc.SEMAEM)) {
                    throw new IllegalArgumentException("the adjustments of process " + u.pid() + " do not fit the set's "
                        + values.size() + " semaphores");
                }
            }
        }
    }

    /** A member's adjustments (semadj) of each semaphore of a set, not all 0; {@code pid} as the image numbers it. */
    record Undo(int pid, List<Integer> adjustments) {
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
        return new Saved(SysvPerm.of(id, ds), values, changedBy, List.of());
    }

    /** {@inheritDoc} With each live member's adjustments, asked of it while it is stopped. */
    @Override
    List<Saved> save(List<Integer> ids, SysvUsers tree, List<FrozenProcess> frozen) {
        List<Saved> sets = super.save(ids, tree, frozen);
        if (sets.isEmpty()) {
            return sets;
        }
        List<SemaphoreAdjustments.SetValues> values = sets.stream()
            .map(s -> new SemaphoreAdjustments.SetValues(s.perm().id(), s.values())).toList();
        Map<Integer, List<Undo>> undo = new HashMap<>();
        for (FrozenProcess member : frozen) {
            SemaphoreAdjustments.read(member, values).forEach((id, adjustments) -> {
                if (Arrays.stream(adjustments).anyMatch(a -> a != 0)) {
                    undo.computeIfAbsent(id, k -> new ArrayList<>())
                        .add(new Undo(tree.imagePid(member.pid()), Arrays.stream(adjustments).boxed().toList()));
                }
            });
        }
        return sets.stream().map(s -> new Saved(s.perm(), s.values(), s.changedBy(), undo.getOrDefault(s.perm().id(), List.of())))
            .toList();
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
        // each member's adjustments, after every SETVAL (which clears them)
        for (Undo u : saved.undo()) {
            Puppet member = members.member(u.pid());
            RestoreProgram p = member.newProgram();
            for (int i = 0; i < u.adjustments().size(); i++) {
                int adjustment = u.adjustments().get(i);
                if (adjustment != 0) {
                    semop(p, saved, i, "adjustment " + adjustment, SemaphoreAdjustments.shift(i, saved.values().get(i), adjustment));
                }
            }
            member.run(p);
        }
        // a semaphore adjusted names the last adjusting member: its last changer takes it back
        for (int i = 0; i < saved.values().size(); i++) {
            int num = i;
            if (saved.undo().stream().anyMatch(u -> u.adjustments().get(num) != 0)) {
                Puppet member = members.member(saved.changedBy().get(i));
                RestoreProgram p = member.newProgram();
                semop(p, saved, i, "last change", SemaphoreAdjustments.touch(i, saved.values().get(i)));
                member.run(p);
            }
        }
    }

    /** Adds to {@code p} a semop of {@code ops} on semaphore {@code num} of {@code saved}, for {@code what}. */
    private static void semop(RestoreProgram p, Saved saved, int num, String what, List<SysvIpc.SemOp> ops) {
        p.call("semop(" + saved.perm().describe() + ", semaphore " + num + ", " + what + ")", SysvIpc.SEMOP, saved.perm().id(),
            p.data(SysvIpc.sembufs(ops)), ops.size());
    }
}
