package io.pmig.checkpoint.task;

import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.ptrace.InjectedSyscalls;
import io.pmig.checkpoint.restore.RestoreProgram;

import java.util.List;

/**
 * The membarrier(2) registrations of a process (linux/membarrier.h): a private expedited barrier answers
 * EPERM unless the process registered for it, so issuing each from inside the frozen process (a barrier
 * among stopped threads, which changes nothing) tells which it has; the restore registers them again.
 * A registration for global expedited barriers cannot be seen this way (the global command works for
 * every process) and is not carried.
 */
final class Membarrier {
    /** {command that answers EPERM unless registered, the registration}, as bits of a registration set. */
    private static final List<int[]> KINDS = List.of(
        new int[] {1 << 3, 1 << 4},     // PRIVATE_EXPEDITED, REGISTER_PRIVATE_EXPEDITED
        new int[] {1 << 5, 1 << 6},     // PRIVATE_EXPEDITED_SYNC_CORE, REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
        new int[] {1 << 7, 1 << 8});    // PRIVATE_EXPEDITED_RSEQ, REGISTER_PRIVATE_EXPEDITED_RSEQ

    private Membarrier() {
    }

    /** The calls asking, one per kind, to run in the process. */
    static List<InjectedSyscalls.Call> queries() {
        return KINDS.stream().map(k -> new InjectedSyscalls.Call(Nr.MEMBARRIER, k[0], 0, 0)).toList();
    }

    /** The registrations (REGISTER_* commands or'ed) from the results of {@link #queries()}. */
    static int registrations(long[] results, int from) {
        int out = 0;
        for (int i = 0; i < KINDS.size(); i++) {
            if (results[from + i] == 0) {
                out |= KINDS.get(i)[1];
            }
        }
        return out;
    }

    /** Calls registering the process again for {@code registrations}. */
    static void register(int registrations, RestoreProgram p) {
        for (int[] k : KINDS) {
            if ((registrations & k[1]) != 0) {
                p.call("membarrier(register " + k[1] + ")", Nr.MEMBARRIER, k[1], 0, 0);
            }
        }
    }
}
