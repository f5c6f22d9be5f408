package io.pmig.checkpoint;

import io.pmig.checkpoint.fd.FdRestorer;
import io.pmig.checkpoint.image.Image;
import io.pmig.checkpoint.image.ImageException;
import io.pmig.checkpoint.image.ImageHeader;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Restores a process from an image directory with its original PID and TIDs, detached from the caller.
 * Must be called on one thread from start to end: ptrace requests come from the thread that attached.
 */
public final class RestoreEngine {
    public RestoreReport restore(Path dir, RestoreOptions options) {
        long start = System.nanoTime();
        Path file = dir.resolve(CheckpointEngine.IMAGE_FILE);
        if (!Files.isRegularFile(file)) {
            throw new RefusedException("no image at " + file + "; make one with pmig checkpoint PID --dir " + dir);
        }
        try (Image image = openImage(file)) {
            ProcessImage process = image.object(ProcessImage.class);
            List<ThreadImage> threads = image.objects(ThreadImage.class);
            List<MappingImage> mappings = image.objects(MappingImage.class);
            preflight(image, process, threads, mappings, options);

            long hole = MemoryRestorer.chooseHole(mappings, Puppet.HOLE_SIZE);
            try (Puppet puppet = Puppet.launch(RestorerBinary.path(), process.pid(), hole, options.newPidNamespace())) {
                requireSameXsave(puppet, image.header());
                TaskRestorer task = new TaskRestorer(puppet, process);
                task.blockSignals();
                MemoryRestorer.moveKernelMappings(puppet, mappings);
                MemoryRestorer.createMappings(puppet, mappings);
                long pageBytes = MemoryRestorer.fillPages(puppet, image);
                MemoryRestorer.protect(puppet, mappings);
                task.restoreMmLayout();
                int descriptors = FdRestorer.restore(puppet, image);
                task.restoreProcessState();
                task.createThreads(threads);
                task.restoreThreadState(threads);
                task.restoreLimitsAndCredentials();
                puppet.unmapHole();
                task.setFinalThreadStates(threads);
                puppet.release();
                return new RestoreReport(puppet.pid(), threads.size(), mappings.size(), pageBytes / image.header().pageSize(),
                    pageBytes, descriptors, System.nanoTime() - start);
            }
        } catch (ImageException e) {
            throw new RefusedException(e.getMessage(), e);
        } catch (IOException e) {
            throw new FailedException("restore from " + file + " failed: " + e.getMessage(), e);
        }
    }

    private static Image openImage(Path file) {
        try {
            Image image = Image.open(file);
            // architecture and page size here; the XSAVE features need a process to ask (requireSameXsave)
            image.requireCompatibleWith(ImageHeader.forThisMachine(image.header().xfeatures(), image.header().xstateSize()));
            return image;
        } catch (IOException e) {
            throw new RefusedException(e.getMessage(), e);
        }
    }

    /** Everything that can be checked before a process exists: ids free, files the same. */
    private static void preflight(Image image, ProcessImage process, List<ThreadImage> threads, List<MappingImage> mappings,
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
