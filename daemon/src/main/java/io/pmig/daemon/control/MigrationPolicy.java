package io.pmig.daemon.control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Who may migrate a process: root, or the user who owns it the way ptrace(2) means it
 * (ptrace_may_access): the process's real, effective, saved and filesystem user are all the
 * caller's, and so are its groups; it holds no capability (its owner has none to give it); and it
 * is dumpable (the kernel makes /proc/PID root's for one that is not: a set-user-ID program that
 * dropped privileges, say). So a user never moves, and so never restores, more privilege than
 * they have. The caller's user and group come from SO_PEERCRED on the control socket, the
 * process's from /proc.
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

    public Decision mayMigrate(Caller caller, long targetPid) {
        if (targetPid <= 0) {
            return new Decision(false, "pid " + targetPid + " is not a process id");
        }
        Path dir = proc.resolve(Long.toString(targetPid));
        List<String> status;
        int owner;
        try {
            status = Files.readAllLines(dir.resolve("status"));
            owner = (Integer) Files.getAttribute(dir, "unix:uid");
        } catch (NoSuchFileException e) {
            return new Decision(false, "there is no process " + targetPid + " on this node");
        } catch (IOException e) {
            return new Decision(false, "cannot read " + dir.resolve("status") + ": " + e);
        }
        if (caller.root()) {
            return new Decision(true, "root may migrate any process");
        }
        int uid = caller.uid();
        long[] uids = fields(status, "Uid:");
        if (uids[0] != uid || uids[1] != uid) {
            return new Decision(false, "uid " + uid + " may not migrate pid " + targetPid + ", which runs as uid " + uids[0]
                    + (uids[1] != uids[0] ? " (effective " + uids[1] + ")" : "") + ": only root or the owner of a process may migrate it");
        }
        String notQuiteOwned = "uid " + uid + " may not migrate pid " + targetPid + ": ";
        if (uids[2] != uid || uids[3] != uid) {
            return new Decision(false, notQuiteOwned + "its saved or filesystem user is another (Uid: " + join(uids)
                    + "), so it can become that user; only root may migrate it");
        }
        long[] gids = fields(status, "Gid:");
        for (long gid : gids) {
            if (gid != caller.gid()) {
                return new Decision(false, notQuiteOwned + "it runs with groups (Gid: " + join(gids) + ") other than the caller's ("
                        + caller.gid() + "); only root may migrate it");
            }
        }
        String permitted = status.stream().filter(l -> l.startsWith("CapPrm:")).map(l -> l.substring(7).strip()).findFirst().orElse("0");
        if (Long.parseUnsignedLong(permitted, 16) != 0) {
            return new Decision(false, notQuiteOwned + "it holds capabilities (CapPrm " + permitted + ") its owner does not;"
                    + " only root may migrate it");
        }
        if (owner != uid) {
            return new Decision(false, notQuiteOwned + "it is not dumpable (/proc/" + targetPid + " belongs to uid " + owner
                    + "); only root may migrate it");
        }
        return new Decision(true, "uid " + uid + " owns pid " + targetPid);
    }

    /** Throws ControlRefusedException with the reason unless {@link #mayMigrate} allows it. */
    public void requireMayMigrate(Caller caller, long targetPid) {
        Decision decision = mayMigrate(caller, targetPid);
        if (!decision.allowed()) {
            throw new ControlRefusedException(decision.reason());
        }
    }

    /** The four ids of a "Uid:" or "Gid:" line of /proc/PID/status: real, effective, saved, filesystem. */
    private static long[] fields(List<String> status, String key) {
        return status.stream().filter(l -> l.startsWith(key)).findFirst()
                .map(l -> Arrays.stream(l.substring(key.length()).strip().split("\\s+")).mapToLong(Long::parseLong).toArray())
                .orElseThrow(() -> new ControlRefusedException("no " + key + " line in a process's status"));
    }

    private static String join(long[] ids) {
        return Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(" "));
    }
}
