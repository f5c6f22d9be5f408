package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.restore.RestoreProgram;

import java.util.ArrayList;
import java.util.List;

/**
 * The locks a process holds through an open file, as its fdinfo "lock:" lines show them (fs/locks.c
 * lock_get_status): POSIX record locks (owned by the process, shown under the descriptor they were taken
 * through), OFD locks and flock() locks (owned by the open file description). They are taken again in the
 * restored process once its descriptors are in place, the original's having gone with it. Leases and
 * delegations are refused: the kernel breaks them when another process opens the file, which a restore
 * cannot arrange in advance.
 */
final class FileLocks {
    /** {@code kind}: POSIX, OFDLCK or FLOCK; {@code end} -1 for "to the end of the file". */
    record Lock(String kind, boolean write, long start, long end) {
    }

    private FileLocks() {
    }

    /** The locks of {@code file}; refuses a lease, a delegation or a lock this engine cannot take again. */
    static List<Lock> of(OpenFile file) {
        List<Lock> out = new ArrayList<>();
        for (String line : file.fdinfoText().split("\n")) {
            if (!line.startsWith("lock:")) {
                continue;
            }
            // "lock:\t1: POSIX  ADVISORY  WRITE 4242 fe:00:1234 100 149"
            String[] t = line.substring(line.indexOf(':', 5) + 1).trim().split("\\s+");
            String kind = t[0];
            if (!kind.equals("POSIX") && !kind.equals("OFDLCK") && !kind.equals("FLOCK")) {
                throw new RefusedException(file.describe() + " holds a " + (kind.equals("LEASE") || kind.equals("BREAKING")
                    ? "lease (F_SETLEASE)" : kind.toLowerCase() + " lock") + " on the file, which cannot be restored yet");
            }
            if (!t[2].equals("READ") && !t[2].equals("WRITE")) {
                throw new RefusedException(file.describe() + ": a " + kind + " lock of type " + t[2] + " cannot be restored yet");
            }
            out.add(new Lock(kind, t[2].equals("WRITE"), Long.parseLong(t[5]), t[6].equals("EOF") ? -1 : Long.parseLong(t[6])));
        }
        return out;
    }

    /** Calls taking {@code locks} again through descriptor {@code fd} of the restored process. */
    static void take(List<Lock> locks, int fd, RestoreProgram program) {
        for (Lock l : locks) {
            String what = l.kind() + (l.write() ? " write" : " read") + " lock " + l.start() + "-" + (l.end() < 0 ? "EOF" : l.end())
                + " through fd " + fd;
            if (l.kind().equals("FLOCK")) {
                program.call("flock: " + what, Nr.FLOCK, fd, l.write() ? Linux.LOCK_EX : Linux.LOCK_SH);
                continue;
            }
            byte[] flock = Linux.flock(l.write() ? Linux.F_WRLCK : Linux.F_RDLCK, l.start(), l.end() < 0 ? 0 : l.end() - l.start() + 1);
            program.call("fcntl: " + what, Nr.FCNTL, fd, l.kind().equals("OFDLCK") ? Linux.F_OFD_SETLK : Linux.F_SETLK, program.data(flock));
        }
    }
}
