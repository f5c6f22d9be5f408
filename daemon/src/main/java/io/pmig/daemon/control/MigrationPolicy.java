package io.pmig.daemon.control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Who may migrate a process: root, or the user who owns it, meaning the process's real and
 * effective user are both the caller's (so a set-user-ID program is not its invoker's to move).
 * The caller's user comes from SO_PEERCRED on the control socket, the process's from /proc.
 */
public final class MigrationPolicy {
    private final Path proc;

    public MigrationPolicy() {
        this(Path.of("/proc"));
    }

    MigrationPolicy(Path proc) {
        this.proc = proc;
    }

    /** The answer, with the reason when it is no. */
    public record Decision(boolean allowed, String reason) {
    }

    public Decision mayMigrate(int callerUid, long targetPid) {
        if (targetPid <= 0) {
            return new Decision(false, "pid " + targetPid + " is not a process id");
        }
        int[] uids;
        try {
            uids = uids(targetPid);
        } catch (NoSuchFileException e) {
            return new Decision(false, "there is no process " + targetPid + " on this node");
        } catch (IOException e) {
            return new Decision(false, "cannot read " + proc.resolve(Long.toString(targetPid)).resolve("status") + ": " + e);
        }
        if (callerUid == 0) {
            return new Decision(true, "root may migrate any process");
        }
        if (uids[0] == callerUid && uids[1] == callerUid) {
            return new Decision(true, "uid " + callerUid + " owns pid " + targetPid);
        }
        return new Decision(false, "uid " + callerUid + " may not migrate pid " + targetPid + ", which runs as uid " + uids[0]
                + (uids[1] != uids[0] ? " (effective " + uids[1] + ")" : "") + ": only root or the owner of a process may migrate it");
    }

    /** Throws ControlRefusedException with the reason unless {@link #mayMigrate} allows it. */
    public void requireMayMigrate(Caller caller, long targetPid) {
        Decision decision = mayMigrate(caller.uid(), targetPid);
        if (!decision.allowed()) {
            throw new ControlRefusedException(decision.reason());
        }
    }

    /** Real and effective uid from the "Uid:" line of /proc/PID/status (real, effective, saved, filesystem). */
    private int[] uids(long pid) throws IOException {
        for (String line : Files.readAllLines(proc.resolve(Long.toString(pid)).resolve("status"))) {
            if (line.startsWith("Uid:")) {
                String[] fields = line.substring(4).strip().split("\\s+");
                return new int[] {Integer.parseInt(fields[0]), Integer.parseInt(fields[1])};
            }
        }
        throw new IOException("no Uid line in /proc/" + pid + "/status");
    }
}
