package io.pmig.checkpoint.task;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.nativeio.Nsfs;
import io.pmig.checkpoint.proc.ProcFs;

/**
 * The user namespace a process runs in: its inode (of /proc/PID/ns/user), the uid that created it and
 * its id maps (/proc/PID/uid_map, gid_map, as pmig's own namespace sees them). {@code pmigs}: it is the
 * namespace pmig itself ran in when it read it (the initial one on a host).
 *
 * <p>The restore creates no user namespace, so every process it makes lives in the restorer's. A process
 * of another user namespace is refused: its capabilities there (a nobody-owned {@code unshare -U -r}
 * program holds them all) would become real ones outside it.
 */
public record UserNamespace(long inode, int ownerUid, String uidMap, String gidMap, boolean pmigs) {

    /** The user namespace of process {@code pid}, compared with pmig's own. */
    public static UserNamespace of(int pid) {
        ProcFs proc = new ProcFs(pid);
        long inode = inode(proc);
        if (inode == Pmigs.OWN.inode()) {
            return Pmigs.OWN;
        }
        return read(proc, inode, false);
    }

    /** pmig's own user namespace, read once: a process never leaves the one it was started in but by unshare or setns, which pmig does not call. */
    private static final class Pmigs {
        private static final ProcFs SELF = new ProcFs((int) ProcessHandle.current().pid());
        static final UserNamespace OWN = read(SELF, inode(SELF), true);
    }

    private static UserNamespace read(ProcFs proc, long inode, boolean pmigs) {
        return new UserNamespace(inode, Nsfs.ownerUid(proc.path("ns/user").toString()), maps(proc, "uid_map"),
            maps(proc, "gid_map"), pmigs);
    }

    /** Refuses process {@code pid} unless it runs in pmig's own user namespace; touches nothing. */
    public static void requireSameAsPmigs(int pid) {
        UserNamespace ns = of(pid);
        if (!ns.pmigs()) {
            throw ns.refusal(pid);
        }
    }

    /**
     * The refusal of process {@code pid} of this namespace: a restore would give it, outside its
     * namespace, the capabilities it holds only inside.
     */
    public RefusedException refusal(int pid) {
        return new RefusedException("process " + pid + " runs in user namespace " + inode + " (created by uid " + ownerUid
            + ", uid_map \"" + uidMap + "\", gid_map \"" + gidMap + "\"), not in pmig's own; pmig cannot recreate user"
            + " namespaces, and restoring it outside would give it real privileges it holds only there; stop it and"
            + " start it on the other node instead");
    }

    private static long inode(ProcFs proc) {
        String link = proc.readLink("ns/user"); // "user:[4026531837]"
        return Long.parseLong(link.substring(link.indexOf('[') + 1, link.indexOf(']')));
    }

    /** The map's lines, each "inside outside count" with single spaces, joined by "; ". */
    private static String maps(ProcFs proc, String file) {
        return String.join("; ", proc.read(file).strip().lines().map(l -> l.strip().replaceAll("\\s+", " ")).toList());
    }
}
