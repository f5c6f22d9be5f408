package io.pmig.checkpoint.task;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.proc.ProcFs;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Processes pmig never checkpoints, refused by name before anything is touched: PID 1 (a frozen init
 * stops the host, or the PID namespace, it runs), kernel threads (no user memory, nothing to restore),
 * pmigd (the node agent that would carry the service) and the calling pmig process itself. pmigd is
 * recognised by its main class on its command line, so this module needs nothing from the daemon.
 */
public final class ProtectedProcesses {
    /** The daemon's main class, as bin/pmigd and the packaged launcher start it. */
    public static final String PMIGD_MAIN_CLASS = "io.pmig.daemon.Pmigd";
    /** include/linux/sched.h: the task is a kernel thread. */
    private static final long PF_KTHREAD = 0x00200000;

    private ProtectedProcesses() {
    }

    /** Refuses {@code proc} if it is one of the processes pmig never checkpoints. */
    public static void refuseProtected(ProcFs proc) {
        int pid = proc.pid();
        String[] stat = proc.stat();
        if (pid == 1) {
            throw new RefusedException("process 1 is the init process of this PID namespace ('" + stat[2] + "'); pmig never"
                + " checkpoints it: freezing it would stop the system");
        }
        if (pid == ProcessHandle.current().pid()) {
            throw new RefusedException("process " + pid + " is this pmig process itself");
        }
        if ((Long.parseUnsignedLong(stat[9]) & PF_KTHREAD) != 0) {
            throw new RefusedException("process " + pid + " is a kernel thread ('" + stat[2] + "'), which has no user memory or state"
                + " to checkpoint");
        }
        if (arguments(proc).contains(PMIGD_MAIN_CLASS)) {
            throw new RefusedException("process " + pid + " is pmigd, pmig's node agent; it does not move itself: move its services"
                + " and stop it (systemctl stop pmigd) instead");
        }
    }

    private static List<String> arguments(ProcFs proc) {
        return Arrays.asList(new String(proc.readBytes("cmdline"), StandardCharsets.UTF_8).split("\0"));
    }
}
