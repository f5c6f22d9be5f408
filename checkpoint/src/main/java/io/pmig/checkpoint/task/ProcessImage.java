package io.pmig.checkpoint.task;

import io.pmig.checkpoint.image.ImageKind;

import java.util.List;

/** Process-wide state: everything that is not a thread, a mapping or a descriptor. */
@ImageKind("process")
public record ProcessImage(
        int pid,
        String exe,
        String cwd,
        String root,
        int umask,
        int personality,
        int[] uids,
        int[] gids,
        int[] groups,
        boolean noNewPrivs,
        long[][] rlimits,
        List<SignalAction> signalActions,
        List<byte[]> pendingSignals,
        long[][] itimers,
        List<PosixTimer> posixTimers,
        MmLayout mm) {

    /** struct kernel_sigaction of one signal (asm/signal.h). */
    public record SignalAction(int signal, long handler, long flags, long restorer, long mask) {
    }

    /** A POSIX timer with its id, how it notifies, and what was left of it (struct itimerspec). */
    public record PosixTimer(int id, int clock, int notification, int signal, long sigval, int threadId,
                             long intervalSec, long intervalNsec, long valueSec, long valueNsec) {
    }

    /** The fields of struct prctl_mm_map (linux/prctl.h), the current brk and the auxiliary vector. */
    public record MmLayout(long startCode, long endCode, long startData, long endData, long startBrk, long brk,
                           long startStack, long argStart, long argEnd, long envStart, long envEnd, long[] auxv) {
    }
}
