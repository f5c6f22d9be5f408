package io.pmig.checkpoint;

import io.pmig.checkpoint.cgroup.ServiceCgroup;
import io.pmig.checkpoint.carried.RecreatedFiles;
import io.pmig.checkpoint.fd.FdRestorer;
import io.pmig.checkpoint.fd.RestoreContext;
import io.pmig.checkpoint.fd.TcpSockets;
import io.pmig.checkpoint.image.Image;
import io.pmig.checkpoint.image.ImageException;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.image.PageRun;
import io.pmig.checkpoint.imagedir.ImageDirectory;
import io.pmig.checkpoint.imagedir.ImageMac;
import io.pmig.checkpoint.imagedir.NodeKey;
import io.pmig.checkpoint.ipc.SysvObjects;
import io.pmig.checkpoint.precopy.RoundImage;
import io.pmig.checkpoint.memory.FileIdentity;
import io.pmig.checkpoint.memory.InheritedPages;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.memory.MemoryRestorer;
import io.pmig.checkpoint.memory.VdsoProxy;
import io.pmig.checkpoint.nativeio.XsaveFeatures;
import io.pmig.nativeio.Errno;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestorerBinary;
import io.pmig.checkpoint.task.PrivilegeCheck;
import io.pmig.checkpoint.task.ProcessImage;
import io.pmig.checkpoint.task.TaskRestorer;
import io.pmig.checkpoint.task.ThreadImage;
import io.pmig.checkpoint.tree.PidNamespaces;
import io.pmig.checkpoint.tree.ProcessTree;
import io.pmig.checkpoint.tree.TreeBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Restores a process from an image file or stream with its original PID and TIDs, detached from the caller.
 * Must be called on one thread from start to end: ptrace requests come from the thread that attached.
 */
public final class RestoreEngine {
    /** How long a failed restore waits for the process it killed to be reaped. */
    private static final long REAPED_WITHIN_NANOS = 5_000_000_000L;

    /**
     * Restores from {@code dir}/{@value CheckpointEngine#IMAGE_FILE} and lets the process run. The directory
     * must be root's and writable by no one else, and the file must authenticate under the node key (its
     * {@code .mac}, {@link ImageMac}): its framing is checked before anything starts, its chunks are verified in file
     * order on another core from then on, nothing is made before the objects' are, its pages are written into the stopped
     * process straight from the memory-mapped file meanwhile, and the process is killed, never let run, if they do not
     * authenticate.
     */
    public RestoreReport restore(Path dir, RestoreOptions options) {
        StepTimer steps = new StepTimer();
        Path file = imageFile(dir);
        ImageMac.Authentication authentication = ImageMac.authentication(file, NodeKey.load());
        int cores = Runtime.getRuntime().availableProcessors();
        try (FileChannel in = FileChannel.open(file);
             ImageMac.Verification verification = authentication.verifyInBackground(in, Math.max(1, cores - 1))) {
            Image image = openAuthenticated(file);
            try {
                if (TreeBuilder.treeOf(image.objects()) != null) {
                    // a tree's images follow one another in the file: read as the stream they were written as, once authentic
                    image.close();
                    verification.awaitAll();
                    try (RestoredProcess restored = restore(openStream(in.position(0), file.toString()), options, steps)) {
                        restored.resume();
                        return restored.report();
                    }
                }
                image.requireAlone();
                try (RestoredProcess restored = restore(mapped(image, verification), options, steps)) {
                    restored.resume();
                    return restored.report();
                }
            } catch (ImageException e) {
                throw new RefusedException(e.getMessage(), e);
            } finally {
                image.close();
            }
        } catch (IOException e) {
            throw new FailedException("restore from " + file + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * The TCP connections of the process (every process of a tree) in the image in {@code dir} (listeners left out), by
     * their two ends; the image is checked as {@link #restore(Path, RestoreOptions)} checks it, and nothing is restored.
     */
    public List<TcpConnection> tcpConnections(Path dir) {
        Path file = authenticated(dir);
        List<TcpConnection> out = new ArrayList<>();
        try (FileChannel in = FileChannel.open(file)) {
            StreamImageSource image = openStream(in, file.toString());
            ProcessTree tree = TreeBuilder.treeOf(image.objects());
            for (int i = 0; i < (tree == null ? 1 : tree.members().size()); i++) {
                if (i > 0) {
                    image.skipPages();
                    image = (StreamImageSource) image.next();
                }
                image.objects().all(TcpSockets.State.class).stream().map(TcpSockets::connectionOf).filter(Objects::nonNull).forEach(out::add);
            }
            return out;
        } catch (IOException e) {
            throw new RefusedException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** The image file in {@code dir}, once its directory is found safe and the file authentic under the node key. */
    private static Path authenticated(Path dir) {
        Path file = imageFile(dir);
        ImageMac.verify(file, NodeKey.load());
        return file;
    }

    /** The image file in {@code dir}, once its directory is found safe. */
    private static Path imageFile(Path dir) {
        Path file = dir.resolve(CheckpointEngine.IMAGE_FILE);
        ImageDirectory.requireSafe(dir);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new RefusedException("no image at " + file + "; make one with pmig checkpoint PID --dir " + dir);
        }
        return file;
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
        StepTimer steps = new StepTimer();
        return restore(openStream(in, source), options, steps);
    }

    /**
     * Starts the destination side of a pre-copy (staged) migration with its first round, read from
     * {@code firstRound}: the restored process is created now (stopped, as a restorer) and its address
     * space built from the round's layout and pages, so that each later round ({@link PrecopyTarget#receiveRound})
     * and the last part ({@link PrecopyTarget#finish}) only apply what changed. {@code options.newPidNamespace()}
     * applies from here; the hook comes with the last part. The channel stays the caller's.
     */
    public PrecopyTarget prepareInAdvance(ReadableByteChannel firstRound, String source, RestoreOptions options) {
        return PrecopyTarget.prepare(openStream(firstRound, source), options);
    }

    static StreamImageSource openStream(ReadableByteChannel in, String source) {
        try {
            StreamImageSource image = StreamImageSource.open(in, source);
            requireCompatible(image);
            return image;
        } catch (IOException e) {
            throw new RefusedException(e.getMessage(), e);
        }
    }

    /**
     * {@code steps}: begun when the caller began, for the report's time (which includes reading the objects). An image
     * whose objects hold a {@link ProcessTree} is the first of the tree's images in {@code image}: the root's. The tree
     * is created bare first, each member forked by its parent with its pid, session and group ({@link TreeBuilder}),
     * then each member is built from its own image as it comes, and the TCP connections of all go live together.
     */
    private RestoredProcess restore(ImageSource image, RestoreOptions requested, StepTimer steps) {
        steps.lap("objects");
        if (image.objects().kinds().contains(RoundImage.class.getAnnotation(ImageKind.class).value())) {
            throw new RefusedException(image.name() + " is one round of a pre-copy stream, not a whole image; "
                + "a pre-copy is received with RestoreEngine.prepareInAdvance");
        }
        FullImage full;
        ProcessTree tree;
        List<Integer> ids;
        RestoreOptions checked;
        // the pre-flight only reads, while the objects are authenticated: an image that does not authenticate is refused as such
        try {
            full = FullImage.of(image);
            tree = TreeBuilder.treeOf(image.objects());
            ids = tree != null ? tree.allTids() : full.threads().stream().map(ThreadImage::tid).toList();
            checked = preflight(image.objects(), full, requested.withNewPidNamespaceIf(full.process().ownPidNamespace()), ids, false);
        } catch (RefusedException e) {
            image.awaitAuthenticObjects();
            throw e;
        }
        image.awaitAuthenticObjects();
        RestoreOptions options = checked.withNewPidNamespaceIf(tree != null && checked.newPidNamespaceIfTaken()
            && PidNamespaces.mayBeHandedOutSoon(TreeBuilder.forkedPids(tree)));
        steps.lap("preflight");

        long hole = MemoryRestorer.chooseHole(full.mappings(), Puppet.HOLE_SIZE);
        ProcessImage process = full.process();
        // a process that keeps its pid is born into its cgroup (named for that pid), with its limits
        ServiceCgroup cgroup = options.newPidNamespace() ? null : ServiceCgroup.make(cgroupName(process.exe(), process.pid()));
        if (cgroup != null) {
            cgroup.apply(process.cgroupLimits());
        }
        Puppet puppet = Puppet.launch(RestorerBinary.path(), process.pid(), hole, options.newPidNamespace(),
            options.newPidNamespaceIfTaken(), process.clocks(), cgroup == null ? null : cgroup.unifiedLeaf().orElse(null));
        RestoredProcess restored = new RestoredProcess(puppet, new RestoreContext());
        killOnFailure(restored, image.name(), () -> {
            requireSameXsave(puppet, image.header());
            puppet.blockAllSignals();
            FutureTask<Void> inCgroup = enterOwnCgroup(puppet, process, cgroup);
            restored.sysvObjects(SysvObjects.recreate(image.objects()));
            steps.lap("launch");
            if (tree != null) {
                awaitDone(inCgroup);                        // the members forked next inherit the root's cgroups
            }
            TreeBuilder.Forker members = TreeBuilder.forker(puppet, tree, restored::adopt);
            Map<Integer, Puppet> byImagePid = new HashMap<>();
            Map<Integer, List<MappingImage>> layouts = new HashMap<>();
            ImageSource member = image;
            FullImage memberImage = full;
            long pageBytes = 0;
            List<LaidOut> laidOut = new ArrayList<>();
            for (Puppet p = puppet; p != null; p = members.next()) {
                ProcessTree.Member m = members.member();
                if (p != puppet) {
                    member = member.next();
                    requireCompatible(member);
                    requireSameXsave(puppet, member.header());
                    memberImage = FullImage.of(member);
                    TreeBuilder.requireMember(m, memberImage.process());
                    preflight(member.objects(), memberImage, options, List.of(), true);
                }
                List<MappingImage> layout = memberImage.mappings();
                restored.context().recreatedFiles().recreate(member.objects());
                if (p == puppet) {
                    MemoryRestorer.moveKernelMappings(p, layout);
                    MemoryRestorer.createMappings(p, layout, restored.sharedMemory(), restored.context().recreatedFiles());
                    steps.lap("layout");
                    pageBytes += member.writePages(p);
                } else {
                    InheritedPages pages = new InheritedPages(p, MemoryRestorer.inherit(p, layouts.get(m.ppid()), layout,
                        restored.sharedMemory(), restored.context().recreatedFiles()));
                    steps.lap("layout");
                    pageBytes += member.writePages(pages);
                    pages.dropUnstored(layout);
                }
                steps.lap("pages");
                int imagePid = m == null ? full.process().pid() : m.pid();
                byImagePid.put(imagePid, p);
                layouts.put(imagePid, layout);
                laidOut.add(new LaidOut(p, member, memberImage, m != null && m.parentFiles()));
            }
            restored.sysvObjects().membersBuilt(puppet, byImagePid);
            int descriptors = buildAll(laidOut, restored.context(), steps);
            awaitDone(inCgroup);
            steps.lap("cgroup");
            int mappings = laidOut.stream().mapToInt(l -> l.full().mappings().size()).sum();
            finish(restored, ids.size(), mappings, pageBytes, image.header().pageSize(), descriptors, options, steps.startedAt(), steps);
        });
        return restored;
    }

    /** The objects every whole image (a bundle, the last part of a pre-copy) has. */
    record FullImage(ProcessImage process, List<ThreadImage> threads, List<MappingImage> mappings) {
        static FullImage of(ImageSource image) {
            try {
                return new FullImage(image.objects().one(ProcessImage.class), image.objects().all(ThreadImage.class),
                    image.objects().all(MappingImage.class));
            } catch (ImageException e) {
                throw new RefusedException(e.getMessage(), e);
            } catch (UncheckedIOException e) {
                throw new RefusedException(e.getCause().getMessage(), e.getCause());
            }
        }
    }

    /** A process whose address space is built (layout and pages), to be built on from its image. */
    record LaidOut(Puppet puppet, ImageSource image, FullImage full, boolean parentFiles) {
    }

    /**
     * {@link #build}s every process once every address space of the tree is laid out: a process sharing its parent's
     * descriptor table maps files through the engine's pidfd in that table, which the parent's descriptors replace.
     * Returns the descriptors installed.
     */
    static int buildAll(List<LaidOut> laidOut, RestoreContext context, StepTimer steps) throws Exception {
        int descriptors = 0;
        for (LaidOut l : laidOut) {
            descriptors += build(l.puppet(), l.image(), l.full(), context, l.parentFiles(), steps);
        }
        return descriptors;
    }

    /**
     * What follows the pages of one process: protections, mm layout, descriptors, threads, credentials, registers; the
     * restorer's hole is gone after it. {@code parentsDescriptors}: the process shares its parent's descriptor table,
     * built before it. Returns the descriptors installed.
     */
    private static int build(Puppet puppet, ImageSource image, FullImage full, RestoreContext context, boolean parentsDescriptors, StepTimer steps)
            throws Exception {
        TaskRestorer task = new TaskRestorer(puppet, full.process());
        MemoryRestorer.protect(puppet, full.mappings());
        steps.lap("protections");
        task.restoreMmLayout();
        steps.lap("mm layout");
        // a process sharing its parent's descriptor table (CLONE_FILES) finds its descriptors there, restored by the parent
        int descriptors = parentsDescriptors ? 0 : FdRestorer.restore(puppet, image.objects(), context);
        steps.lap("descriptors");
        task.restoreProcessState();
        steps.lap("process state");
        task.createThreads(full.threads());
        task.restoreThreadState(full.threads());
        steps.lap("threads");
        task.restoreLimitsAndCredentials(full.threads());
        puppet.unmapHole();
        task.setFinalThreadStates(full.threads());
        task.queueTraps(full.threads());
        steps.lap("credentials, registers");
        return descriptors;
    }

    /** The sockets of every process live (after the hook), and the report. */
    static void finish(RestoredProcess restored, int threads, int mappings, long pageBytes, int pageSize, int descriptors,
                               RestoreOptions options, long start, StepTimer steps) throws Exception {
        restored.beforeGoLive(options.beforeSocketsGoLive());
        steps.lap("before go-live");
        restored.goLive();
        steps.lap("sockets live");
        restored.completed(new RestoreReport(restored.pid(), threads, mappings, pageBytes / pageSize, pageBytes,
            descriptors, System.nanoTime() - start, steps.times(), restored.pids()));
    }

    interface RestoreStep {
        void run() throws Exception;
    }

    /** Runs a step on a process being built; any failure kills it, silently for its peers, and is rethrown. */
    static void killOnFailure(RestoredProcess restored, String source, RestoreStep step) {
        try {
            step.run();
        } catch (RefusedException e) {
            killAndAwaitReaped(restored);
            throw e;
        } catch (Exception e) {
            killAndAwaitReaped(restored);
            throw new FailedException("restore from " + source + " failed: " + e.getMessage()
                + "; the half-restored process " + restored.pid() + " was killed", e);
        } catch (Error e) {
            restored.kill(); // a hook's assertion, say: no half-built process may outlive it either
            throw e;
        }
    }

    /**
     * Kills the half-restored process and waits (a few seconds at most) until its parent, which is not this process,
     * has reaped it: a failed restore returns with the pid free, for a retry (a page that did not authenticate is
     * found once the process exists).
     */
    private static void killAndAwaitReaped(RestoredProcess restored) {
        int pid = restored.pid();
        restored.kill();
        ProcFs proc = new ProcFs(pid);
        long deadline = System.nanoTime() + REAPED_WITHIN_NANOS;
        while (proc.exists() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static Image openAuthenticated(Path file) {
        try {
            return Image.openAuthenticated(file);
        } catch (IOException e) {
            throw new RefusedException(e.getMessage(), e);
        }
    }

    private static ImageSource mapped(Image image, ImageMac.Verification verification) {
        MappedImageSource source = new MappedImageSource(image, verification);
        try {
            requireCompatible(source);
        } catch (ImageException e) {
            throw new RefusedException(e.getMessage(), e);
        }
        return source;
    }

    /** Architecture and page size here; the XSAVE features need a process to ask (requireSameXsave). */
    static void requireCompatible(ImageSource image) throws ImageException {
        image.requireCompatibleWith(ImageHeader.forThisMachine(image.header().xfeatures(), image.header().xstateSize()));
    }

    /**
     * Everything that can be checked before a process exists: a user namespace the restore can give (pmig's
     * own: a process is never restored with more privilege than it had), ids free, files the same. {@code pidHeld}:
     * the process exists already (pre-copy) and holds the image's pid itself. Returns the options to restore with:
     * into a new PID namespace when an id is taken and {@code options} allow that instead of a refusal.
     */
    static RestoreOptions preflight(ImageObjects image, FullImage full, RestoreOptions options, List<Integer> ids, boolean pidHeld) {
        ProcessImage process = full.process();
        List<ThreadImage> threads = full.threads();
        if (process.userNamespace() != null && !process.userNamespace().pmigs()) {
            throw process.userNamespace().refusal(process.pid());
        }
        RestoreOptions restoreWith = options;
        if (!options.newPidNamespace()) {
            for (int id : ids) {
                if (pidHeld && id == process.pid()) {
                    continue;
                }
                ProcFs holder = new ProcFs(id);
                if (holder.exists()) {
                    String what = id == process.pid() ? "pid " : "thread id ";
                    String who;
                    try {
                        who = "'" + holder.read("comm").trim() + "', state " + holder.status().getOrDefault("State", "?");
                    } catch (RuntimeException gone) {
                        continue;
                    }
                    if (!options.newPidNamespaceIfTaken()) {
                        throw new RefusedException(what + id + " is in use on this host (by " + who
                            + "); stop that process or restore with --new-pid-namespace");
                    }
                    restoreWith = options.withNewPidNamespaceIf(true);
                }
            }
        }
        requireSameFiles(full.mappings());
        VdsoProxy.precheck(full.mappings());
        PrivilegeCheck.requireGrantable(process);
        if (!Files.isRegularFile(Path.of(process.exe()))) {
            throw new RefusedException("executable " + process.exe() + " does not exist on this host");
        }
        FdRestorer.precheck(image);
        RecreatedFiles.precheck(image);
        SysvObjects.precheck(image);
        ServiceCgroup.requireApplicable(process.cgroupLimits());
        if (threads.size() > Puppet.MAX_THREADS) {
            throw new RefusedException("the image has " + threads.size() + " threads; this restorer handles up to " + Puppet.MAX_THREADS);
        }
        return restoreWith;
    }

    /**
     * Puts the new process (and the init of its PID namespace, if it has one) into a cgroup of its own, named for its
     * executable and host pid: never the restoring process's (a daemon's service unit). The image's limits go there next.
     */
    static ServiceCgroup placeInOwnCgroup(Puppet puppet, String exe) {
        List<Integer> pids = new ArrayList<>();
        if (puppet.inNewPidNamespace()) {
            pids.add(Integer.parseInt(new ProcFs(puppet.pid()).status().get("PPid")));
        }
        pids.add(puppet.pid());
        return ServiceCgroup.place(cgroupName(exe, puppet.pid()), pids);
    }

    /** The name of the cgroup of its own of a process of executable {@code exe} with host pid {@code pid}. */
    private static String cgroupName(String exe, int pid) {
        return Path.of(exe).getFileName() + "-" + pid;
    }

    /**
     * Puts the new process into its cgroup of its own with the image's limits ({@link #placeInOwnCgroup}), unless it
     * was born into {@code made}'s v2 one: then it enters the others (systemd's v1 one) on a thread of its own, whose
     * wait for an RCU grace period stays off the restore's path. The returned task ends once the process is in.
     */
    private static FutureTask<Void> enterOwnCgroup(Puppet puppet, ProcessImage process, ServiceCgroup made) {
        FutureTask<Void> entered;
        if (puppet.bornInto() == null) {
            entered = new FutureTask<>(() -> placeInOwnCgroup(puppet, process.exe()).apply(process.cgroupLimits()), null);
            entered.run();
        } else {
            entered = new FutureTask<>(() -> made.enter(List.of(puppet.pid()), puppet.bornInto()), null);
            Thread thread = new Thread(entered, "pmig-restore-cgroup");
            thread.setDaemon(true);
            thread.start();
        }
        return entered;
    }

    /** Waits for {@code task}; rethrows its failure. */
    private static void awaitDone(FutureTask<Void> task) throws Exception {
        try {
            task.get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }

    /**
     * The files mapped must be the same here, each looked at once (a library is mapped in several pieces):
     * a private mapping's untouched pages come from the file, so its contents must not have moved on; a
     * shared mapping is the file itself and may have been written since.
     */
    static void requireSameFiles(List<MappingImage> mappings) {
        Set<FileIdentity> unchanged = new LinkedHashSet<>();
        Set<FileIdentity> same = new LinkedHashSet<>();
        for (MappingImage m : mappings) {
            if (m.file() != null) {
                (m.shared() ? same : unchanged).add(m.file());
            }
        }
        same.removeAll(unchanged);
        unchanged.forEach(FileIdentity::requireUnchanged);
        same.forEach(FileIdentity::requireSameFile);
    }

    /**
     * The saved FPU/vector state must fit this CPU (only a running process can tell what it supports): a CPU without an
     * instruction set the source's had (AVX-512, say) is refused, since the process may have chosen code that uses it.
     * Other components this CPU lacks refuse only if a thread holds state in them ({@link Puppet#setThreadState}).
     */
    static void requireSameXsave(Puppet puppet, ImageHeader header) {
        long here = puppet.xfeatures();
        long lacking = XsaveFeatures.instructionSets(header.xfeatures() & ~here);
        if (lacking != 0) {
            throw new RefusedException("the image was made on a CPU with XSAVE features 0x" + Long.toHexString(header.xfeatures())
                + "; this CPU has 0x" + Long.toHexString(here) + " and lacks " + XsaveFeatures.describe(lacking)
                + ", whose instructions the process may have chosen to use (" + Errno.describe(Errno.EOPNOTSUPP) + ")");
        }
    }
}
