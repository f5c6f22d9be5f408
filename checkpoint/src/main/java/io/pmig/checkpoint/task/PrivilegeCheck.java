package io.pmig.checkpoint.task;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.proc.ProcFs;

import java.util.Map;

/**
 * The restore gives every thread of a process the process's user and group ids, capability sets and
 * no_new_privs; a seccomp filter it does not carry. A process it cannot give what it holds is refused,
 * naming the thread: a seccomp filter (the copy would run unconfined), threads whose credentials
 * differ (the image keeps the process's), or a capability the restorer itself lacks (this host's own
 * bounding set is smaller), or a user namespace other than pmig's ({@link UserNamespace}).
 */
public final class PrivilegeCheck {
    private static final String[] CREDENTIALS = {"Uid", "Gid", "Groups", "NoNewPrivs", "CapBnd", "CapAmb", "CapInh", "CapPrm",
        "CapEff"};

    private PrivilegeCheck() {
    }

    /** Refuses process {@code pid} unless the restore can give every thread the privileges it has. */
    public static void requireRestorable(int pid) {
        UserNamespace.requireSameAsPmigs(pid);
        ProcessImage.Capabilities restorer = ProcessImage.Capabilities.of(new ProcFs((int) ProcessHandle.current().pid()).status());
        Map<String, String> main = new ProcFs(pid).status();
        for (Map.Entry<Integer, Map<String, String>> thread : new ProcFs(pid).threadStatuses().entrySet()) {
            Map<String, String> status = thread.getValue();
            String who = "thread " + thread.getKey() + " of process " + pid;
            String seccomp = status.getOrDefault("Seccomp", "0");
            if (!seccomp.equals("0")) {
                throw new RefusedException(who + " runs under seccomp (mode " + seccomp + "), whose filters pmig cannot restore"
                    + " yet; stop it and start it on the other node instead");
            }
            for (String field : CREDENTIALS) {
                if (!status.getOrDefault(field, "").equals(main.getOrDefault(field, ""))) {
                    throw new RefusedException(who + " has other credentials than the process (" + field + ": "
                        + status.getOrDefault(field, "") + ", not " + main.getOrDefault(field, "") + "), which pmig cannot restore yet");
                }
            }
        }
        ProcessImage.Capabilities has = ProcessImage.Capabilities.of(main);
        long beyond = (has.bounding() | has.ambient() | has.inheritable() | has.permitted() | has.effective()) & ~restorer.bounding();
        if (beyond != 0) {
            throw beyondThisHost(pid, beyond);
        }
    }

    /**
     * Refuses, before a restore creates anything, an image whose process holds capabilities (permitted, effective,
     * inheritable, ambient) beyond this host's bounding set, which capset could not give back: a host that filters
     * some, or an older kernel that does not know them. Bits only of the image's bounding set are no reason: the
     * copy's bounding set is the image's less what this kernel lacks, and it could not have gained them here.
     */
    public static void requireGrantable(ProcessImage process) {
        ProcessImage.Capabilities has = process.capabilities();
        if (has == null) {
            return;                                         // an image made before they were kept
        }
        ProcessImage.Capabilities here = ProcessImage.Capabilities.of(new ProcFs((int) ProcessHandle.current().pid()).status());
        long beyond = (has.ambient() | has.inheritable() | has.permitted() | has.effective()) & ~here.bounding();
        if (beyond != 0) {
            throw beyondThisHost(process.pid(), beyond);
        }
    }

    private static RefusedException beyondThisHost(int pid, long capabilities) {
        return new RefusedException("process " + pid + " holds capabilities 0x" + Long.toHexString(capabilities) + " (bits of"
            + " linux/capability.h) that this host's bounding set lacks, so no restore here could give them back");
    }
}
