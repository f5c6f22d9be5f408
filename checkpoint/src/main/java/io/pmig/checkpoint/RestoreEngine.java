package io.pmig.checkpoint;

import io.pmig.checkpoint.fd.FdRestorer;
import io.pmig.checkpoint.fd.RestoreContext;
import io.pmig.checkpoint.image.Image;
import io.pmig.checkpoint.image.ImageException;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.memory.MemoryRestorer;
import io.pmig.nativeio.Errno;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestorerBinary;
import io.pmig.checkpoint.task.ProcessImage;
import io.pmig.checkpoint.task.TaskRestorer;
import io.pmig.checkpoint.task.ThreadImage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Restores a process from an image file or stream with its original PID and TIDs, detached from the caller.
 * Must be called on one thread from start to end: ptrace requests come from the thread that attached.
 */
public final class RestoreEngine {
    /**
     * Restores from {@code dir}/{@value CheckpointEngine#IMAGE_FILE} and lets the process run. The file
     * is verified whole (every checksum) before anything starts, then its pages are written into the
     * process straight from the memory-mapped file.
     */
    public RestoreReport restore(Path dir, RestoreOptions options) {
        long start = System.nanoTime();
        Path file = dir.resolve(CheckpointEngine.IMAGE_FILE);
        if (!Files.isRegularFile(file)) {
            throw new RefusedException("no image at " + file + "; make one with pmig checkpoint PID --dir " + dir);
        }
        try (Image image = openImage(file); RestoredProcess restored = restore(mapped(image), options, start)) {
            restored.resume();
            return restored.report();
        } catch (IOException e) {
            throw new FailedException("restore from " + file + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Restores from an image stream, reading it record by record: the objects first (checked before any
     * process exists), then each run of pages straight into the new process as it arrives, then the END
     * record; TCP connections are rebuilt in repair mode, {@code options.beforeSocketsGoLive()} runs, and
     * they go live. Returns the process complete but stopped, for the caller to
     * {@link RestoredProcess#resume() resume} or {@link RestoredProcess#kill() kill}. The stream is read
     * up to its END record and no further; {@code in} stays open and is the caller's. A stream that turns
     * out truncated or corrupt after the process was created fails the restore: the half-built process
     * is killed, with no packet to any peer, and nothing of it is left.
     *
     * <p>{@code source} names the stream in messages ("node-a", "image stream").
     */
    public RestoredProcess restore(ReadableByteChannel in, String source, RestoreOptions options) {
        long start = System.nanoTime();
        StreamImageSource image;
        try {
            image = StreamImageSource.open(in, source);
            requireCompatible(image);
        } catch (IOException e) {
            throw new RefusedException(e.getMessage(), e);
        }
        return restore(image, options, start);
    }

    /** {@code start}: when the caller began, for the report's time (which includes reading the objects). */
    private RestoredProcess restore(ImageSource image, RestoreOptions options, long start) {
        ProcessImage process;
        List<ThreadImage> threads;
        List<MappingImage> mappings;
        try {
            process = image.objects().one(ProcessImage.class);
            threads = image.objects().all(ThreadImage.class);
            mappings = image.objects().all(MappingImage.class);
        } catch (ImageException e) {
            throw new RefusedException(e.getMessage(), e);
        } catch (UncheckedIOException e) {
            throw new RefusedException(e.getCause().getMessage(), e.getCause());
        }
        preflight(image.objects(), process, threads, mappings, options);

        long hole = MemoryRestorer.chooseHole(mappings, Puppet.HOLE_SIZE);
        Puppet puppet = Puppet.launch(RestorerBinary.path(), process.pid(), hole, options.newPidNamespace());
        RestoredProcess restored = new RestoredProcess(puppet, new RestoreContext());
        try {
            requireSameXsave(puppet, image.header());
            TaskRestorer task = new TaskRestorer(puppet, process);
            task.blockSignals();
            MemoryRestorer.moveKernelMappings(puppet, mappings);
            MemoryRestorer.createMappings(puppet, mappings);
            long pageBytes = image.writePages(puppet);
            MemoryRestorer.protect(puppet, mappings);
            task.restoreMmLayout();
            int descriptors = FdRestorer.restore(puppet, image.objects(), restored.context());
            task.restoreProcessState();
            task.createThreads(threads);
            task.restoreThreadState(threads);
            task.restoreLimitsAndCredentials();
            puppet.unmapHole();
            task.setFinalThreadStates(threads);
            restored.goLive(options.beforeSocketsGoLive());
            restored.completed(new RestoreReport(puppet.pid(), threads.size(), mappings.size(),
                pageBytes / image.header().pageSize(), pageBytes, descriptors, System.nanoTime() - start));
            return restored;
        } catch (RefusedException e) {
            restored.kill();
            throw e;
        } catch (Exception e) {
            restored.kill();
            throw new FailedException("restore from " + image.name() + " failed: " + e.getMessage()
                + "; the half-restored process " + puppet.pid() + " was killed", e);
        } catch (Error e) {
            restored.kill(); // a hook's assertion, say: no half-built process may outlive it either
            throw e;
        }
    }

    private static Image openImage(Path file) {
        try {
            return Image.open(file);
        } catch (IOException e) {
            throw new RefusedException(e.getMessage(), e);
        }
    }

    private static ImageSource mapped(Image image) {
        MappedImageSource source = new MappedImageSource(image);
        try {
            requireCompatible(source);
        } catch (ImageException e) {
            throw new RefusedException(e.getMessage(), e);
        }
        return source;
    }

    /** Architecture and page size here; the XSAVE features need a process to ask (requireSameXsave). */
    private static void requireCompatible(ImageSource image) throws ImageException {
        image.requireCompatibleWith(ImageHeader.forThisMachine(image.header().xfeatures(), image.header().xstateSize()));
    }

    /** Everything that can be checked before a process exists: ids free, files the same. */
    private static void preflight(ImageObjects image, ProcessImage process, List<ThreadImage> threads, List<MappingImage> mappings,
                                  RestoreOptions options) {
        if (!options.newPidNamespace()) {
            for (ThreadImage t : threads) {
                ProcFs holder = new ProcFs(t.tid());
                if (holder.exists()) {
                    String what = t.tid() == process.pid() ? "pid " : "thread id ";
                    String who;
                    try {
                        who = "'" + holder.read("comm").trim() + "', state " + holder.status().getOrDefault("State", "?");
                    } catch (RuntimeException gone) {
                        continue;
                    }
                    throw new RefusedException(what + t.tid() + " is in use on this host (by " + who
                        + "); stop that process or restore with --new-pid-namespace");
                }
            }
        }
        for (MappingImage m : mappings) {
            if (m.file() == null) {
                continue;
            }
            // a private mapping's untouched pages come from the file, so its contents must not have
            // moved on; a shared mapping is the file itself and may have been written since
            if (m.shared()) {
                m.file().current();
            } else {
                m.file().requireUnchanged();
            }
        }
        if (!Files.isRegularFile(Path.of(process.exe()))) {
            throw new RefusedException("executable " + process.exe() + " does not exist on this host");
        }
        FdRestorer.precheck(image);
        if (threads.size() > Puppet.MAX_THREADS) {
            throw new RefusedException("the image has " + threads.size() + " threads; this restorer handles up to " + Puppet.MAX_THREADS);
        }
    }

    /** The saved FPU/vector state must fit this CPU; only a running process can tell what it supports. */
    private static void requireSameXsave(Puppet puppet, ImageHeader header) {
        long here = puppet.xfeatures();
        if ((header.xfeatures() & ~here) != 0) {
            throw new RefusedException("the image was made on a CPU with XSAVE features 0x" + Long.toHexString(header.xfeatures())
                + "; this CPU has 0x" + Long.toHexString(here) + " (" + Errno.describe(Errno.EOPNOTSUPP) + ")");
        }
    }
}
