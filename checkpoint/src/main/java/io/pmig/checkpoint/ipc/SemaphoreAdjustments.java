package io.pmig.checkpoint.ipc;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.nativeio.SysvIpc;
import io.pmig.checkpoint.nativeio.SysvIpc.SemOp;
import io.pmig.checkpoint.ptrace.FrozenProcess;
import io.pmig.checkpoint.ptrace.InjectedSyscalls;
import io.pmig.nativeio.Errno;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The adjustments the kernel keeps per process for its semaphore operations made with SEM_UNDO (semadj, applied when
 * the process exits), read from a frozen process and made again in a restored one. Nothing shows them from outside (not
 * /proc, not semctl), but a semop the process itself makes tells one thing: an operation with SEM_UNDO that would take
 * the adjustment out of [-(SEMAEM + 1), SEMAEM] fails with ERANGE. A probe is a semop that shifts the adjustment by d
 * with value-neutral pairs (each operation with SEM_UNDO next to its opposite without), then asks for what can never be
 * had without waiting (IPC_NOWAIT): it fails either way, and the kernel takes back what it did, leaving the value, the
 * last changer (GETPID), sem_otime and the adjustment as they were; ERANGE says adj + d > SEMAEM, EAGAIN says not (a
 * shift up past the top, then down past the bottom, asks whether it is other than 0). One probe tells a zero
 * adjustment; a search of about three rounds, each one batch of injected calls, finds the others. A restored process
 * makes the same shift, without the closing ask, from a zero adjustment. What is read is the undo list of the
 * process's main thread, which its threads share (pthreads clone with CLONE_SYSVSEM). A probe has up to 13
 * operations: fewer allowed per semop (kernel.sem's semopm, 500 by default) fail the checkpoint (E2BIG).
 */
final class SemaphoreAdjustments {
    /** Bytes of a probe's sembuf array in the scratch page: shifts of 32767 and 65535 (two and four pairs) and the closing ask. */
    private static final int PROBE_BYTES = 80;
    private static final int PROBES_PER_BATCH = InjectedSyscalls.SCRATCH_SIZE / (PROBE_BYTES + 8);
    private static final int LOWEST = -SysvIpc.SEMAEM - 1;

    private SemaphoreAdjustments() {
    }

    /** A set whose adjustments are read: its id and each semaphore's value now. */
    record SetValues(int id, List<Integer> values) {
    }

    /** What is known of one semaphore's adjustment: lowest..highest. */
    private static final class Unknown {
        final SetValues set;
        final int num;
        int lowest = LOWEST;
        int highest = SysvIpc.SEMAEM;

        Unknown(SetValues set, int num) {
            this.set = set;
            this.num = num;
        }

        int value() {
            return set.values().get(num);
        }
    }

    /**
     * A question to the process about the adjustment of {@code of}: is it above {@code threshold}, or, {@code nonZero},
     * is it other than 0 (up by SEMAEM, past the top if it was above 0, then down by 2 SEMAEM + 1, past the bottom if it
     * was below 0).
     */
    private record Probe(Unknown of, int threshold, boolean nonZero) {
        List<SemOp> ops() {
            List<SemOp> ops = new ArrayList<>();
            if (nonZero) {
                ops.addAll(shift(of.num, of.value(), SysvIpc.SEMAEM));
                ops.addAll(shift(of.num, of.value(), -2 * SysvIpc.SEMAEM - 1));
            } else {
                ops.addAll(shift(of.num, of.value(), SysvIpc.SEMAEM - threshold));
            }
            ops.add(new SemOp(of.num, LOWEST, SysvIpc.IPC_NOWAIT)); // never had without waiting: every probe fails
            return ops;
        }

        /** Narrows the adjustment by the answer: yes (ERANGE) or no (EAGAIN). */
        void learn(boolean yes) {
            if (nonZero) {
                if (!yes) {
                    of.lowest = 0;
                    of.highest = 0;
                }
            } else if (yes) {
                of.lowest = Math.max(of.lowest, threshold + 1);
            } else {
                of.highest = Math.min(of.highest, threshold);
            }
        }
    }

    /**
     * The adjustments of the process {@code frozen} (stopped; nothing of it or of the sets changes), per set id, each
     * semaphore's; a set the process may not alter now (EACCES: it has no write permission, so it makes no operation on
     * it) is left out. The first round asks, of each semaphore, whether its adjustment is other than 0; each later one
     * splits what is left of the others into as many parts as a batch of calls can ask about.
     */
    static Map<Integer, int[]> read(FrozenProcess frozen, List<SetValues> sets) {
        Map<Integer, int[]> out = new LinkedHashMap<>();
        List<Unknown> open = new ArrayList<>();
        for (SetValues s : sets) {
            out.put(s.id(), new int[s.values().size()]);
            for (int num = 0; num < s.values().size(); num++) {
                open.add(new Unknown(s, num));
            }
        }
        int pid = frozen.pid();
        try (InjectedSyscalls in = new InjectedSyscalls(pid, pid, frozen.registers(pid))) {
            boolean first = true;
            while (!open.isEmpty()) {
                List<Probe> probes = new ArrayList<>();
                int perSemaphore = Math.max(1, PROBES_PER_BATCH / open.size());
                for (Unknown u : open) {
                    if (first) {
                        probes.add(new Probe(u, 0, true));
                    } else {
                        long span = (long) u.highest - u.lowest + 1;
                        long parts = Math.min(perSemaphore + 1, span);
                        for (long j = 1; j < parts; j++) {
                            probes.add(new Probe(u, (int) (u.lowest - 1 + j * span / parts), false));
                        }
                    }
                }
                first = false;
                for (int from = 0; from < probes.size(); from += PROBES_PER_BATCH) {
                    ask(in, pid, probes.subList(from, Math.min(probes.size(), from + PROBES_PER_BATCH)), out);
                }
                for (Unknown u : open) {
                    if (u.lowest == u.highest && out.containsKey(u.set.id())) {
                        out.get(u.set.id())[u.num] = u.lowest;
                    }
                }
                open.removeIf(u -> u.lowest == u.highest || !out.containsKey(u.set.id()));
            }
        }
        return out;
    }

    private static void ask(InjectedSyscalls in, int pid, List<Probe> probes, Map<Integer, int[]> out) {
        long scratch = in.scratch();
        List<InjectedSyscalls.Call> calls = new ArrayList<>();
        for (Probe p : probes) {
            List<SemOp> ops = p.ops();
            long at = (long) PROBE_BYTES * calls.size();
            in.writeScratch((int) at, SysvIpc.sembufs(ops));
            calls.add(new InjectedSyscalls.Call(SysvIpc.SEMOP, p.of().set.id(), scratch + at, ops.size()));
        }
        long[] results = in.callAll(calls);
        for (int i = 0; i < probes.size(); i++) {
            Probe p = probes.get(i);
            int id = p.of().set.id();
            int errno = (int) -results[i];
            if (!out.containsKey(id)) {
                continue;
            } else if (errno == Errno.ERANGE || errno == Errno.EAGAIN) {
                p.learn(errno == Errno.ERANGE);
            } else if (errno == Errno.EACCES) {
                out.remove(id);
            } else {
                throw new FailedException("cannot read the SEM_UNDO adjustments of process " + pid + " on System V semaphore set id "
                    + id + ": " + (results[i] == 0 ? "a probing semop succeeded" : "semop failed: " + Errno.describe(errno)));
            }
        }
    }

    /**
     * The operations that change the calling process's adjustment of semaphore {@code num} by {@code by} (at most 65535
     * either way) and leave its value, {@code value}, as it is: pairs of an operation with SEM_UNDO (the adjustment
     * moves against it) and its opposite without, each step at most the room the value leaves above or below it (at
     * least half the range), the step that goes down first when the value allows it. None waits (IPC_NOWAIT).
     */
    static List<SemOp> shift(int num, int value, int by) {
        List<SemOp> ops = new ArrayList<>();
        int room = Math.max(value, SysvIpc.SEMVMX - value);
        for (int left = Math.abs(by); left > 0; left -= room) {
            int step = Math.min(left, room);
            int undone = by > 0 ? -step : step; // semadj -= sem_op
            SemOp withUndo = new SemOp(num, undone, SysvIpc.SEM_UNDO | SysvIpc.IPC_NOWAIT);
            SemOp opposite = new SemOp(num, -undone, SysvIpc.IPC_NOWAIT);
            boolean downFirst = value >= step;
            ops.addAll(undone < 0 == downFirst ? List.of(withUndo, opposite) : List.of(opposite, withUndo));
        }
        return ops;
    }

    /**
     * Operations that change nothing of semaphore {@code num} (value {@code value}) but make the caller its last
     * changer (GETPID): a wait for zero when it is zero, else one down and up again.
     */
    static List<SemOp> touch(int num, int value) {
        return value == 0 ? List.of(new SemOp(num, 0, SysvIpc.IPC_NOWAIT))
            : List.of(new SemOp(num, -1, SysvIpc.IPC_NOWAIT), new SemOp(num, 1, SysvIpc.IPC_NOWAIT));
    }
}
