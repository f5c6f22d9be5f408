package io.pmig.checkpoint;

import io.pmig.checkpoint.cgroup.FreezerPark;
import io.pmig.checkpoint.carried.CarriedFile;
import io.pmig.checkpoint.carried.CarriedFiles;
import io.pmig.checkpoint.fd.FdDumper;
import io.pmig.checkpoint.fd.FdImage;
import io.pmig.checkpoint.fd.FileState;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageWriter;
import io.pmig.checkpoint.imagedir.ImageDirectory;
import io.pmig.checkpoint.imagedir.ImageMac;
import io.pmig.checkpoint.imagedir.NodeKey;
import io.pmig.checkpoint.ipc.SysvObjects;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.memory.MemoryDumper;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.task.PrivilegeCheck;
import io.pmig.checkpoint.task.ProtectedProcesses;
import io.pmig.checkpoint.ptrace.FrozenProcess;
import io.pmig.checkpoint.task.ProcessImage;
import io.pmig.checkpoint.task.TaskDumper;
import io.pmig.checkpoint.task.ThreadImage;
import io.pmig.checkpoint.dirty.UntrackableException;
import io.pmig.checkpoint.tree.FrozenTree;
import io.pmig.checkpoint.tree.ProcessTree;
import io.pmig.checkpoint.tree.SharingCheck;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checkpoints one process (all its threads) into an image stream or an image directory.
 * Must be called on one thread from start to end: ptrace requests come from the thread that attached.
 */
public final class CheckpointEngine {
    public static final String IMAGE_FILE = "image.pmig";
    /** What a file of the image directory is called until it is complete. */
    private static final String PARTIAL = ".partial";
    /**
     * Where the kernel puts XCR0 in the XSAVE area it hands to ptrace: the first word of its software-reserved bytes
     * (xstate_fx_sw_bytes[USER_XSTATE_XCR0_WORD], arch/x86/include/asm/user.h), where GDB reads it too.
     */
    private static final int XSAVE_SW_XFEATURES = 464;
    /** How often, and how long apart, a process with something transient (see {@link UnsettledException}) is let run. */
    private static final int SETTLE_ATTEMPTS = 50;
    private static final long SETTLE_PAUSE_MS = 20;
    /** How often a pre-flight refused while the tree changed under it looks at the tree again. */
    private static final int PREFLIGHT_ATTEMPTS = 5;

    /**
     * Resumes a process (with its descendants) whose checkpoint was abandoned (the daemon died while it was frozen):
     * each was left parked (frozen in its park cgroup, or group-stopped), its TCP connections in repair mode. They
     * leave repair mode, then the processes go on, the children first. Returns the connections brought back.
     */
    public static int recoverAbandoned(int pid) {
        if (!new ProcFs(pid).exists()) {
            throw new RefusedException("process " + pid + " does not exist");
        }
        List<Integer> tree = new ArrayList<>(ProcessTree.hostPidsOf(pid));
        java.util.Collections.reverse(tree);
        int connections = 0;
        for (int member : tree) {
            connections += FdDumper.leaveRepairAll(member);
        }
        for (int member : tree) {
            FreezerPark.of(member).ifPresentOrElse(FreezerPark::leave, () -> Linux.kill(member, Linux.SIGCONT));
        }
        return connections;
    }

    /**
     * The TCP connections of process {@code pid} and its descendants (listeners left out) by their two ends, each once,
     * read while they run: what a caller holds off before a checkpoint that takes them away. Touches nothing.
     */
    public List<TcpConnection> tcpConnections(int pid) {
        refuseAtEntry(pid);
        Set<TcpConnection> out = new java.util.LinkedHashSet<>();
        for (int member : ProcessTree.hostPidsOf(pid)) {
            out.addAll(FdDumper.tcpConnections(member));
        }
        return List.copyOf(out);
    }

    /**
     * The TCP listeners of process {@code pid} and its descendants, each once, with the connections it has not
     * accepted and the handshakes under way to it, read while they run: what must be empty before the freeze (neither
     * can be restored), which a caller that holds new connections off waits for. Touches nothing.
     */
    public List<ListenerBacklog> listenerBacklogs(int pid) {
        refuseMissing(pid);
        Set<ListenerBacklog> out = new java.util.LinkedHashSet<>();
        for (int member : ProcessTree.hostPidsOf(pid)) {
            out.addAll(FdDumper.listenerBacklogs(member));
        }
        return List.copyOf(out);
    }

    /**
     * Checkpoints into {@code dir}/{@value #IMAGE_FILE} (written as {@code .partial} and renamed when
     * complete) with its authentication {@code image.pmig.mac} (under the node key, {@link ImageMac}), then kills
     * the process, or thaws it with {@code leaveRunning}. The directory is made 0700, or must be root's and
     * writable by no one else; its files are made 0600 and new, never through an existing file.
     *
     * <p>The image is authenticated on every core once it is complete (each chunk read back from the page cache), and the
     * process killed only once the authentication is written: a failure to authenticate the image leaves the process as
     * it was. The authentication file is made, at its full size, before the freeze, so that writing
     * it allocates nothing.
     */
    public CheckpointReport checkpoint(int pid, Path dir, CheckpointOptions options) {
        StepTimer total = new StepTimer();
        refuseAtEntry(pid);
        // the park inside the frozen window then waits for no RCU grace period: it passes during the pre-flight
        try (FreezerPark.QuickEntry quickPark = FreezerPark.keptQuickSoon()) {
            return checkpointToDirectory(pid, dir, options, total);
        }
    }

    private CheckpointReport checkpointToDirectory(int pid, Path dir, CheckpointOptions options, StepTimer total) {
        Path image = dir.resolve(IMAGE_FILE);
        Path partial = dir.resolve(IMAGE_FILE + PARTIAL);
        Path mac = dir.resolve(IMAGE_FILE + ImageMac.SUFFIX);
        Path macPartial = dir.resolve(IMAGE_FILE + ImageMac.SUFFIX + PARTIAL);
        NodeKey key = NodeKey.loadOrCreate();
        ImageDirectory.prepare(dir);
        FileChannel file = ImageDirectory.createNew(partial);
        FileChannel macFile;
        try {
            macFile = ImageDirectory.createNew(macPartial);
        } catch (RuntimeException e) {
            closeQuietly(file);
            deleteQuietly(partial);
            throw e;
        }
        try {
            ImageMac.reserve(macFile);
        } catch (IOException e) {
            discard(file, partial, macFile, macPartial);
            throw new FailedException("cannot write the authentication file " + macPartial + ": " + e.getMessage()
                + "; the process was not touched", e);
        }
        FrozenCheckpoint frozen;
        try {
            CheckedProcess checked = preflighted(pid);
            ImageDirectory.reserve(partial, expectedImageBytes(pid));
            frozen = checkpoint(checked, file, options);
        } catch (RuntimeException e) {
            discard(file, partial, macFile, macPartial);
            throw e;
        }
        long frozenPartEnd = System.nanoTime();
        total.lapUntil("pre-flight", frozenPartEnd - frozen.report().frozenNanos());
        total.lapUntil("frozen", frozenPartEnd);
        try {
            file.truncate(file.position());                     // what the reservation gave beyond the image
            file.close();
            Files.move(partial, image, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            closeQuietly(macFile);
            deleteQuietly(partial);
            deleteQuietly(macPartial);
            frozen.abort();
            throw new FailedException("checkpoint of process " + pid + " failed: cannot complete " + image + ": "
                + e.getMessage() + "; the process was left running and no image was written", e);
        }
        if (options.leaveRunning()) {
            frozen.abort();
        }
        total.lap("image complete");
        try {
            ImageMac.write(macFile, ImageMac.sign(image, key));
            macFile.close();
            Files.move(macPartial, mac, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            closeQuietly(macFile);
            deleteQuietly(macPartial);
            deleteQuietly(image);
            if (!options.leaveRunning()) {
                frozen.abort();
            }
            throw new FailedException("checkpoint of process " + pid + " failed: cannot write the authentication " + mac + " of its"
                + " image: " + e.getMessage() + "; the process was left running and no image was written", e);
        }
        total.lap("authentication");
        // killed only once the image can be restored: a failure before leaves the process as it was
        if (!options.leaveRunning()) {
            frozen.commit();
            total.lap("kill");
        }
        CheckpointReport r = frozen.report();
        StepTimes totalSteps = total.times();
        return new CheckpointReport(pid, image, r.threads(), r.mappings(), r.pagesStored(), r.pageBytes(), r.imageBytes(),
            r.descriptors(), options.leaveRunning(), r.frozenNanos(), totalSteps.totalNanos(), r.steps(), r.processes(), totalSteps);
    }

    /**
     * Freezes the process and writes its whole image to {@code out}, then returns with the process
     * still frozen (and its TCP connections in repair mode) for the caller to
     * {@link FrozenCheckpoint#commit() commit} or {@link FrozenCheckpoint#abort() abort}. {@code out}
     * stays open and is the caller's: the image ends with its END record, and the writer never reads
     * or writes past it. On failure the process runs on as before and {@code out} holds an incomplete
     * image (no END record), which every reader refuses.
     *
     * <p>Everything, including the returned handle, must be used on the calling thread (ptrace).
     */
    public FrozenCheckpoint checkpoint(int pid, WritableByteChannel out, CheckpointOptions options) {
        return checkpoint(preflighted(pid), out, options);
    }

    /** The pre-flight of a checkpoint alone, nothing touched: a caller refuses early, and checkpoints later. */
    public CheckedProcess preflighted(int pid) {
        return new CheckedProcess(pid, preflight(pid));
    }

    /** {@link #checkpoint(int, WritableByteChannel, CheckpointOptions)} of a process whose pre-flight passed. */
    public FrozenCheckpoint checkpoint(CheckedProcess process, WritableByteChannel out, CheckpointOptions options) {
        return checkpoint(process.pid(), process.tree(), out, options, MemoryDumper::mappings,
            (memory, mappings, threads, steps) -> {
                PageSelection selection = new PageSelection(List.of(), memory.plan(mappings));
                steps.lap("page plan");
                return selection;
            });
    }

    /**
     * Starts a pre-copy (staged) migration of the running process {@code pid}: write tracking begins
     * now; the returned session sends rounds while the process runs, then the last part frozen.
     * Everything, including the session, must be used on the calling thread (ptrace).
     */
    public PrecopySource precopy(int pid, PrecopyOptions options) {
        List<Integer> tree = preflight(pid);
        String sysv = SysvObjects.usedBy(tree).first();
        if (sysv != null) {
            throw new UntrackableException("process " + pid + " uses " + sysv + ", which pre-copy does not carry in its rounds yet; "
                + "it moves in one piece (bundle)");
        }
        for (int member : tree) {
            String carried = member == pid || !ProcessTree.ended(member) ? CarriedFiles.firstMappedIn(member) : null;
            if (carried != null) {
                throw new UntrackableException("process " + member + " maps " + carried + ", a file whose contents travel in the image, "
                    + "which pre-copy does not carry in its rounds yet; it moves in one piece (bundle)");
            }
        }
        return new PrecopySource(tree, options, this);
    }

    /**
     * What every checkpoint checks before it touches the process and its descendants (the tree it takes whole): that
     * each is one pmig may take, that they share nothing with a process that would stay behind, that a restore can
     * give each its session and group back, and that they hold only descriptors and privileges a restore recreates.
     */
    private static List<Integer> preflight(int pid) {
        refuseAtEntry(pid);
        for (int attempt = 1; ; attempt++) {
            List<Integer> tree = ProcessTree.hostPidsOf(pid);
            try {
                checkTree(pid, tree);
                return tree;
            } catch (RefusedException e) {
                // a worker forked (or one ended) since the tree was listed, as a prefork server under load does: the
                // new one shares the listener and looked like an outsider. The checks look at the tree as it is now
                if (attempt == PREFLIGHT_ATTEMPTS || ProcessTree.hostPidsOf(pid).equals(tree)) {
                    throw e;
                }
            }
        }
    }

    /** The checks of {@link #preflight} on the processes {@code tree} listed, the root {@code pid} first. */
    private static void checkTree(int pid, List<Integer> tree) {
        // a zombie (ended, not reaped yet) holds nothing: it is restored as one
        List<Integer> live = tree.stream().filter(member -> member == pid || !ProcessTree.ended(member)).toList();
        for (int member : live.subList(1, live.size())) {
            refuseAtEntry(member);
        }
        SharingCheck.requireSelfContained(Set.copyOf(tree));
        SysvObjects.usedBy(tree);
        ProcessTree.of(tree);
        for (int member : live) {
            FdDumper.precheck(member);
            PrivilegeCheck.requireRestorable(member);
        }
    }

    /** Which pages the image of a frozen process stores, and objects to write after the process's own. */
    record PageSelection(List<Object> objects, MemoryDumper.PagePlan plan) {
    }

    /** Chooses the pages of the image once the process is frozen and its mappings read; laps its steps on {@code steps}. */
    interface PageSelector {
        PageSelection select(MemoryDumper memory, List<MappingImage> mappings, List<ThreadImage> threads, StepTimer steps) throws IOException;
    }

    /** Reads the mappings of a frozen process; a pre-copy passes what it read before, to spare smaps. */
    interface MappingsReader {
        List<MappingImage> read(MemoryDumper memory);
    }

    /**
     * The checkpoint itself, without the pre-checks of descriptors and privileges: a pre-copy made them when it began, and its
     * last part must not spend downtime on them again (a descriptor opened since is refused by the dump, frozen,
     * and the process thawed). {@code checked}: the processes the pre-flight checked (the root first); a tree that differs
     * once frozen is checked again for sharing.
     */
    FrozenCheckpoint checkpoint(int pid, List<Integer> checked, WritableByteChannel out, CheckpointOptions options,
                                MappingsReader mappingsReader, PageSelector pagesToStore) {
        long start = System.nanoTime();
        refuseMissing(pid);

        FrozenTree frozen = null;
        List<FdDumper.Result> fds = null;
        ProcessTree tree = null;
        StepTimer steps = null;
        for (int attempt = 1; fds == null; attempt++) {
            steps = new StepTimer();
            try {
                frozen = FrozenTree.freeze(pid);
                frozen.startParking();
                steps.lap("freeze");
                if (!frozen.pids().equals(checked)) {
                    // a child forked or ended between the pre-flight (or a pre-copy's start) and the freeze: the tree
                    // must share nothing outside
                    SharingCheck.requireSelfContained(Set.copyOf(frozen.pids()));
                }
                if (frozen.pids().size() > 1) {
                    tree = ProcessTree.of(frozen.pids());
                }
                fds = FdDumper.dumpTree(frozen.livePids());
                steps.lap("descriptors");
            } catch (UnsettledException e) {
                if (frozen != null) {
                    frozen.thaw();
                    frozen = null;
                }
                if (attempt == SETTLE_ATTEMPTS) {
                    throw new RefusedException(e.getMessage() + ", still after " + SETTLE_ATTEMPTS * SETTLE_PAUSE_MS
                        + " ms of letting it run; hold new connections off (or let the server catch up) and retry");
                }
                sleep(SETTLE_PAUSE_MS);
            } catch (RuntimeException e) {
                if (frozen != null) {
                    frozen.thaw();
                }
                throw e;
            }
        }
        ImageWriter writer = null;
        try {
            SysvObjects sysv = SysvObjects.usedBy(frozen.pids());
            List<Object> sysvImages = sysv.save(frozen.members());
            List<Member> members = new ArrayList<>();
            for (int i = 0; i < frozen.members().size(); i++) {
                FrozenProcess process = frozen.members().get(i);
                TaskDumper.Task task = new TaskDumper(process).dump();
                members.add(new Member(task.process(), task.threads(), new MemoryDumper(new ProcFs(process.pid())), null, fds.get(i)));
            }
            steps.lap("task state");
            // read after the task state, on this thread: a reader beside it took the core the process's threads wait for to run
            // its injected calls (a wake-up delayed by a scheduler tick, 4 ms, each)
            for (int i = 0; i < members.size(); i++) {
                Member m = members.get(i);
                members.set(i, new Member(m.process(), m.threads(), m.memory(), mappingsReader.read(m.memory()), m.fds()));
            }
            steps.lap("mappings");
            long pages = 0;
            long imageBytes = 0;
            int threads = 0;
            int mappings = 0;
            int descriptors = 0;
            CarriedFiles carried = new CarriedFiles();
            for (Member m : members) {
                byte[] xstate = m.threads().get(0).xstate();
                long xfeatures = ByteBuffer.wrap(xstate).order(ByteOrder.LITTLE_ENDIAN).getLong(XSAVE_SW_XFEATURES);
                writer = ImageWriter.to(out, ImageHeader.forThisMachine(xfeatures, xstate.length));
                // every OBJECT before the first PAGES: a restore from a stream builds the process from the
                // objects before the pages arrive (image-format.md, "Record order"); the tree first, in the root's
                if (tree != null && m == members.get(0)) {
                    writer.writeObject(tree);
                }
                if (m == members.get(0)) {
                    for (Object o : sysvImages) {
                        writer.writeObject(o);
                    }
                }
                writer.writeObject(m.process());
                for (ThreadImage t : m.threads()) {
                    writer.writeObject(t);
                }
                for (CarriedFile f : carried.newIn(m.memory().pid(), m.mappings(), m.fds())) {
                    writer.writeObject(f);
                }
                for (MappingImage mapping : m.mappings()) {
                    writer.writeObject(mapping);
                }
                for (FileState f : m.fds().files()) {
                    writer.writeObject(f);
                }
                for (FdImage fd : m.fds().fds()) {
                    writer.writeObject(fd);
                }
                steps.lap("objects");
                PageSelection selection = pagesToStore.select(m.memory(), m.mappings(), m.threads(), steps);
                for (Object o : selection.objects()) {
                    writer.writeObject(o);
                }
                if (m == members.get(0)) {
                    // ptrace is done with: from here on the tree stays stopped whatever becomes of this tracer. The move into
                    // the park, begun at the freeze, waits for an RCU grace period: the later it is joined the less it costs
                    frozen.park();
                    steps.lap("park");
                }
                MemoryDumper.PagePlan plan = selection.plan();
                long before = imageBytes;
                long expected = before + writer.projectedSize(plan.runs(), plan.bytes());
                ImageWriter w = writer;
                options.progress().update(before + writer.bytesWritten(), expected);
                pages += m.memory().writePages(plan, writer, () -> options.progress().update(before + w.bytesWritten(), expected));
                writer.close();
                imageBytes += writer.bytesWritten();
                options.progress().update(imageBytes, expected);
                steps.lap("pages");
                threads += m.threads().size();
                mappings += m.mappings().size();
                descriptors += m.fds().fds().size();
            }
            StepTimes times = steps.times();
            CheckpointReport report = new CheckpointReport(pid, null, threads, mappings, pages, pages * MemoryDumper.PAGE, imageBytes,
                descriptors, false, times.totalNanos(), System.nanoTime() - start, times, frozen.pids(), StepTimes.NONE);
            return new FrozenCheckpoint(frozen, fds, report, sysv);
        } catch (RefusedException e) {
            abortQuietly(writer);
            FrozenCheckpoint.thaw(frozen, fds);
            throw e;
        } catch (IOException | RuntimeException e) {
            abortQuietly(writer);
            FrozenCheckpoint.thaw(frozen, fds);
            throw new FailedException("checkpoint of process " + pid + " failed: " + e.getMessage()
                + "; the process was left running and the image is incomplete", e);
        } catch (Error e) {
            abortQuietly(writer); // a progress listener's assertion, say: the process must not stay frozen
            FrozenCheckpoint.thaw(frozen, fds);
            throw e;
        }
    }

    /** One process of the frozen tree: its task state, memory, mappings (once read) and descriptors. */
    private record Member(ProcessImage process, List<ThreadImage> threads, MemoryDumper memory, List<MappingImage> mappings,
                          FdDumper.Result fds) {
    }

    /**
     * The checks of every entry point, before anything is touched: the process exists, is not one pmig
     * never checkpoints, and has no tracer. (A pre-copy's last part repeats only {@link #refuseMissing}:
     * its time is downtime, and a tracer that came since is refused by the freeze.)
     */
    private static void refuseAtEntry(int pid) {
        ProtectedProcesses.refuseProtected(refuseMissing(pid));
        FrozenProcess.requireUntraced(pid);
    }

    private static ProcFs refuseMissing(int pid) {
        ProcFs proc = new ProcFs(pid);
        if (pid <= 0 || !proc.exists()) {
            throw new RefusedException("process " + pid + " does not exist");
        }
        String state = proc.status().getOrDefault("State", "");
        if (state.startsWith("Z") || state.startsWith("X")) {
            throw new RefusedException("process " + pid + " has already exited (" + state + ")");
        }
        return proc;
    }

    /**
     * What the image of {@code pid} will about take, for its file's {@linkplain ImageDirectory#reserve reservation}: the
     * root's anonymous and swapped pages (the other members' are mostly shared with it), and a MiB for the objects.
     */
    private static long expectedImageBytes(int pid) {
        Map<String, String> status;
        try {
            status = new ProcFs(pid).status();
        } catch (UncheckedIOException gone) {
            return 0;       // ended since the pre-flight: the freeze says so
        }
        return (kibibytes(status.get("RssAnon")) + kibibytes(status.get("VmSwap")) + 1024) * 1024;
    }

    /** A /proc/PID/status size ({@code "10240 kB"}) in KiB; 0 when absent (a kernel thread has none). */
    private static long kibibytes(String field) {
        return field == null ? 0 : Long.parseLong(field.trim().split("\\s+")[0]);
    }

    /** Ends an image that failed half-way without an END record, so no reader takes it for complete. */
    static void abortQuietly(ImageWriter writer) {
        if (writer != null) {
            try {
                writer.abort();
            } catch (IOException ignored) {
                // the writer leaves a caller's channel open; nothing to release
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RefusedException("interrupted while waiting for the process to settle");
        }
    }

    /** Closes and deletes the partial image and authentication files of a checkpoint that did not complete. */
    private static void discard(FileChannel file, Path partial, FileChannel macFile, Path macPartial) {
        closeQuietly(file);
        closeQuietly(macFile);
        deleteQuietly(partial);
        deleteQuietly(macPartial);
    }

    private static void closeQuietly(FileChannel file) {
        try {
            file.close();
        } catch (IOException ignored) {
            // a partial file, deleted next
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
