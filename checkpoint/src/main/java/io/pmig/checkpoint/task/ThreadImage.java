package io.pmig.checkpoint.task;

import io.pmig.checkpoint.image.ImageKind;

import java.util.List;

/**
 * One thread: its registers (user_regs_struct words), XSAVE area, signal mask and queued
 * signals (raw siginfo_t), and the per-thread kernel state a thread sets up for itself.
 */
@ImageKind("thread")
public record ThreadImage(
        int tid,
        String name,
        long[] registers,
        byte[] xstate,
        long sigmask,
        List<byte[]> pendingSignals,
        long rseqAddress,
        int rseqSize,
        int rseqSignature,
        long altStackBase,
        int altStackFlags,
        long altStackSize,
        long clearChildTid,
        long robustListHead,
        long robustListLength) {
}
