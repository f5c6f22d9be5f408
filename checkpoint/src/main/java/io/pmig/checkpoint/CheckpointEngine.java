package io.pmig.checkpoint;

import io.pmig.checkpoint.fd.FdDumper;
import io.pmig.checkpoint.fd.FdImage;
import io.pmig.checkpoint.fd.FileState;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageWriter;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.memory.MemoryDumper;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.ptrace.FrozenProcess;
import io.pmig.checkpoint.task.ProcessImage;
import io.pmig.checkpoint.task.TaskDumper;
import io.pmig.checkpoint.task.ThreadImage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Checkpoints one process (all its threads) into an image directory.
 * Must be called on one thread from start to end: ptrace requests come from the thread that attached.
 */
public final class CheckpointEngine {
    public static final String IMAGE_FILE = "image.pmig";
    /** Where the kernel puts XCR0 in the XSAVE area it hands to ptrace (struct _fpx_sw_bytes.xfeatures). */
    private static final int XSAVE_SW_XFEATURES = 472;
    /** How often, and how long apart, a process with something transient (see {@link UnsettledException}) is let run. */
    private static final int SETTLE_ATTEMPTS = 50;
    private static final long SETTLE_PAUSE_MS = 20;

    public CheckpointReport checkpoint(int pid, Path dir, CheckpointOptions options) {
        long start = System.nanoTime();
        ProcFs proc = new ProcFs(pid);
        if (pid <= 0 || !proc.exists()) {
            throw new RefusedException("process " + pid + " does not exist");
        }
        if (pid == ProcessHandle.current().pid()) {
            throw new RefusedException("process " + pid + " is this pmig process itself");
        }
        String state = proc.status().getOrDefault("State", "");
        if (state.startsWith("Z") || state.startsWith("X")) {
            throw new RefusedException("process " + pid + " has already exited (" + state + ")");
        }
        FdDumper.precheck(pid);
        Path image = dir.resolve(IMAGE_FILE);
        Path partial = dir.resolve(IMAGE_FILE + ".partial");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new RefusedException("cannot create image directory " + dir + ": " + e.getMessage(), e);
        }

        FrozenProcess frozen = null;
        FdDumper.Result fds = null;
        for (int attempt = 1; fds == null; attempt++) {
            frozen = FrozenProcess.freeze(pid);
            try {
                fds = FdDumper.dump(pid);
            } catch (UnsettledException e) {
                frozen.thaw();
                if (attempt == SETTLE_ATTEMPTS) {
                    throw new RefusedException(e.getMessage() + ", still after " + SETTLE_ATTEMPTS * SETTLE_PAUSE_MS
                        + " ms of letting it run; hold new connections off (or let the server catch up) and retry");
                }
                sleep(SETTLE_PAUSE_MS);
            } catch (RuntimeException e) {
                frozen.thaw();
                throw e;
            }
        }
        long frozenAt = System.nanoTime();
        List<ThreadImage> threads;
        List<MappingImage> mappings;
        long pages;
        long pageBytes;
        long imageBytes;
        try {
            TaskDumper task = new TaskDumper(frozen);
            ProcessImage process = task.process();
            threads = task.threads();
            MemoryDumper memory = new MemoryDumper(proc);
            mappings = memory.mappings();
            byte[] xstate = threads.get(0).xstate();
            long xfeatures = ByteBuffer.wrap(xstate).order(ByteOrder.LITTLE_ENDIAN).getLong(XSAVE_SW_XFEATURES);
            try (ImageWriter writer = ImageWriter.create(partial, ImageHeader.forThisMachine(xfeatures, xstate.length))) {
                writer.writeObject(process);
                for (ThreadImage t : threads) {
                    writer.writeObject(t);
                }
                for (MappingImage m : mappings) {
                    writer.writeObject(m);
                }
                for (FileState f : fds.files()) {
                    writer.writeObject(f);
                }
                for (FdImage fd : fds.fds()) {
                    writer.writeObject(fd);
                }
                pages = memory.writePages(mappings, writer);
                writer.close();
                imageBytes = writer.bytesWritten();
            }
            pageBytes = pages * MemoryDumper.PAGE;
            Files.move(partial, image, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (RefusedException e) {
            deleteQuietly(partial);
            thaw(frozen, fds);
            throw e;
        } catch (IOException | RuntimeException e) {
            deleteQuietly(partial);
            thaw(frozen, fds);
            throw new FailedException("checkpoint of process " + pid + " failed: " + e.getMessage()
                + "; the process was left running and no image was written", e);
        }
        long frozenNanos;
        if (options.leaveRunning()) {
            thaw(frozen, fds);
            frozenNanos = System.nanoTime() - frozenAt;
        } else {
            frozenNanos = System.nanoTime() - frozenAt;
            frozen.kill();
        }
        return new CheckpointReport(pid, image, threads.size(), mappings.size(), pages, pageBytes, imageBytes,
            fds.fds().size(), options.leaveRunning(), frozenNanos, System.nanoTime() - start);
    }

    /** Lets the process run on: its TCP sockets leave repair mode first. */
    private static void thaw(FrozenProcess frozen, FdDumper.Result fds) {
        if (fds != null) {
            FdDumper.leaveRepair(frozen.pid(), fds.socketsInRepair());
        }
        frozen.thaw();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RefusedException("interrupted while waiting for the process to settle");
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // the partial image is named as such; nothing reads it
        }
    }
}
