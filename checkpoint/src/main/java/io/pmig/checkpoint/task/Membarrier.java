package io.pmig.checkpoint.task;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.ptrace.InjectedSyscalls;
import io.pmig.checkpoint.restore.RestoreProgram;
import io.pmig.nativeio.Errno;

import java.util.ArrayList;
import java.util.List;

/**
 * The membarrier(2) registrations of a process (linux/membarrier.h), asked from inside the frozen process:
 * {@code MEMBARRIER_CMD_GET_REGISTRATIONS} (Linux 6.3+) lists them all, the global expedited one included. An
 * older kernel answers it EINVAL; there a private expedited barrier answers EPERM unless the process registered
 * for it, so issuing each (a barrier among stopped threads, which changes nothing) tells which it has, and a
 * registration for global expedited barriers, whose command works for every process, cannot be seen and is not
 * carried. The restore registers them again.
 */
final class Membarrier {
    private static final int GET_REGISTRATIONS = 1 << 9;
    /** The registrations a restore may give back: REGISTER_GLOBAL_EXPEDITED and the three private ones. */
    private static final int[] REGISTRATIONS = {1 << 2, 1 << 4, 1 << 6, 1 << 8};
    /** {command that answers EPERM unless registered, the registration}, as bits of a registration set. */
    private static final List<int[]> PRIVATE_KINDS = List.of(
        new int[] {1 << 3, 1 << 4},     // PRIVATE_EXPEDITED, REGISTER_PRIVATE_EXPEDITED
        new int[] {1 << 5, 1 << 6},     // PRIVATE_EXPEDITED_SYNC_CORE, REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
        new int[] {1 << 7, 1 << 8});    // PRIVATE_EXPEDITED_RSEQ, REGISTER_PRIVATE_EXPEDITED_RSEQ

    private Membarrier() {
    }

    /** The calls asking, to run in the process: GET_REGISTRATIONS, then one private barrier per kind. */
    static List<InjectedSyscalls.Call> queries() {
        List<InjectedSyscalls.Call> out = new ArrayList<>();
        out.add(new InjectedSyscalls.Call(Nr.MEMBARRIER, GET_REGISTRATIONS, 0, 0));
        PRIVATE_KINDS.forEach(k -> out.add(new InjectedSyscalls.Call(Nr.MEMBARRIER, k[0], 0, 0)));
        return out;
    }

    /** The registrations (REGISTER_* commands or'ed) from the results of {@link #queries()}, at {@code from}. */
    static int registrations(int pid, long[] results, int from) {
        if (!Errno.isError(results[from])) {
            int registered = (int) results[from];
            int unknown = registered & ~java.util.Arrays.stream(REGISTRATIONS).reduce(0, (a, b) -> a | b);
            if (unknown != 0) {
                throw new RefusedException("process " + pid + " holds membarrier registrations 0x" + Integer.toHexString(unknown)
                    + " that this engine cannot give back (linux/membarrier.h)");
            }
            return registered;
        }
        int out = 0;
        for (int i = 0; i < PRIVATE_KINDS.size(); i++) {
            if (results[from + 1 + i] == 0) {
                out |= PRIVATE_KINDS.get(i)[1];
            }
        }
        return out;
    }

    /** Calls registering the process again for {@code registrations}. */
    static void register(int registrations, RestoreProgram p) {
        for (int r : REGISTRATIONS) {
            if ((registrations & r) != 0) {
                p.call("membarrier(register " + r + ")", Nr.MEMBARRIER, r, 0, 0);
            }
        }
    }
}
