package io.pmig.checkpoint;

import io.pmig.checkpoint.cgroup.ServiceCgroup;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.fd.FdRestorer;
import io.pmig.checkpoint.fd.RestoreContext;
import io.pmig.checkpoint.image.ImageException;
import io.pmig.checkpoint.ipc.SysvObjects;
import io.pmig.checkpoint.memory.InheritedPages;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.memory.MemoryRestorer;
import io.pmig.checkpoint.memory.VdsoProxy;
import io.pmig.checkpoint.postcopy.PageFetcher;
import io.pmig.checkpoint.precopy.RoundImage;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestorerBinary;
import io.pmig.checkpoint.task.ThreadImage;
import io.pmig.checkpoint.tree.PidNamespaces;
import io.pmig.checkpoint.tree.ProcessTree;
import io.pmig.checkpoint.tree.TimeNamespaces;
import io.pmig.checkpoint.tree.TreeBuilder;

import java.io.UncheckedIOException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The destination side of a pre-copy (staged) migration: the restored process, or every process of the tree, exists
 * from the first round on, stopped inside the restorer, and each round's layout changes and pages go straight into it
 * as they arrive; {@link #finish} applies the last part (its pages, task state, descriptors, sockets) and returns the
 * processes complete and stopped, like {@link RestoreEngine#restore(ReadableByteChannel, String, RestoreOptions)}. A
 * process of the tree that ended during the rounds is ended here too (its parent reaps it), one forked meanwhile is
 * forked here by its parent for the last part. A round or last part that fails (stream cut or corrupt, a file changed)
 * kills the half-built processes, silently for their peers, and ends the target; so does {@link #abort()}.
 *
 * <p>Must be used on the thread that created it (the processes' ptrace tracer).
 */
public final class PrecopyTarget implements AutoCloseable {
    private final RestoredProcess restored;
    private final String source;
    private final int imagePid;
    /** The process lives in a PID namespace of its own, made again here (see ProcessImage). */
    private final boolean ownPidNamespace;
    private final long start;
    /** The processes being built by the pids they see, the root first and each parent before its children. */
    private final Map<Integer, Copy> copies = new LinkedHashMap<>();
    /** The cgroup of its own the process was put in when it was launched; the last part's limits go there. */
    private ServiceCgroup cgroup;
    private int rounds;
    private long pageBytes;
    private boolean ended;
    /** The post-copy of the copy's missing pages, started by {@link #finish}; null without. */
    private PageFetcher postcopy;

    /** One process being built: its puppet, its place in the tree (its parent's pid, 0 for the root), its layout now. */
    private static final class Copy {
        final Puppet puppet;
        final ProcessTree.Member member;
        List<MappingImage> layout;
        /** Forked in the last part: its address space is still its parent's, whose layout this is; else null. */
        List<MappingImage> forkedFrom;

        Copy(Puppet puppet, ProcessTree.Member member, List<MappingImage> layout) {
            this.puppet = puppet;
            this.member = member;
            this.layout = layout;
        }
    }

    private PrecopyTarget(RestoredProcess restored, String source, int imagePid, boolean ownPidNamespace, long start) {
        this.restored = restored;
        this.source = source;
        this.imagePid = imagePid;
        this.ownPidNamespace = ownPidNamespace;
        this.start = start;
    }

    static PrecopyTarget prepare(StreamImageSource image, RestoreOptions options) {
        long start = System.nanoTime();
        RoundImage round = roundOf(image, 1, false, null);
        List<MappingImage> mappings = mappingsOf(image);
        RestoreEngine.requireSameFiles(mappings);
        VdsoProxy.precheck(mappings);
        ProcessTree tree = TreeBuilder.treeOf(image.objects());
        long hole = MemoryRestorer.chooseHole(mappings, Puppet.HOLE_SIZE);
        boolean newPidNamespace = options.withNewPidNamespaceIf(round.ownPidNamespace()).newPidNamespace();
        if (tree != null && !newPidNamespace && options.newPidNamespaceIfTaken()) {
            // the root's pid is the restorer's to try; any other id of the tree taken here (or soon) puts the tree in a namespace too
            newPidNamespace = PidNamespaces.firstTaken(tree.allTids().subList(1, tree.allTids().size()), "here").isPresent()
                || PidNamespaces.mayBeHandedOutSoon(TreeBuilder.forkedPids(tree));
        }
        Puppet puppet = Puppet.launch(RestorerBinary.path(), round.pid(), hole, newPidNamespace, options.newPidNamespaceIfTaken(),
            round.clocks(), null);
        PrecopyTarget target = new PrecopyTarget(new RestoredProcess(puppet, new RestoreContext()), image.name(), round.pid(),
            round.ownPidNamespace(), start);
        RestoreEngine.killOnFailure(target.restored, target.source, () -> {
            puppet.blockAllSignals();
            target.cgroup = RestoreEngine.placeInOwnCgroup(puppet, round.exe());
            // a zombie of the first round is made in the last part, if its parent has not reaped it by then
            TreeBuilder.Forker members = TreeBuilder.forker(puppet, tree == null ? null : new ProcessTree(tree.live()),
                target.restored::adopt);
            StreamImageSource member = image;
            for (Puppet p = puppet; p != null; p = members.next()) {
                ProcessTree.Member m = members.member() == null ? new ProcessTree.Member(round.pid(), 0, 0, 0, List.of(), null, false)
                    : members.member();
                List<MappingImage> layout = mappings;
                if (p == puppet) {
                    MemoryRestorer.moveKernelMappings(p, layout);
                    MemoryRestorer.createMappings(p, layout, target.restored.sharedMemory(), target.restored.context().recreatedFiles());
                    target.pageBytes += member.writePages(p);
                } else {
                    member = nextImage(member);
                    roundOf(member, 1, false, m.pid());
                    layout = mappingsOf(member);
                    RestoreEngine.requireSameFiles(layout);
                    VdsoProxy.precheck(layout);
                    InheritedPages pages = new InheritedPages(p, MemoryRestorer.inherit(p, target.copyOf(m.ppid()).layout, layout,
                        target.restored.sharedMemory(), target.restored.context().recreatedFiles()));
                    target.pageBytes += member.writePages(pages);
                    pages.dropUnstored(layout);
                }
                target.copies.put(m.pid(), new Copy(p, m, layout));
            }
        });
        target.rounds = 1;
        return target;
    }

    /** The restored process (the root of a tree) as this host sees it (differs from the image's with a new PID namespace). */
    public int pid() {
        return restored.pid();
    }

    /** Rounds applied so far. */
    public int rounds() {
        return rounds;
    }

    /** Bytes of page data written into the processes so far, over all rounds. */
    public long pageBytes() {
        return pageBytes;
    }

    /**
     * Applies the next round read from {@code in}, for each process whose image it holds: the new layout (mappings gone
     * are unmapped, new or replaced ones mapped afresh, kept ones keep their pages), the pages to drop, then its pages.
     * A process of the tree the round no longer names has ended at the source and is ended here. Returns the bytes of
     * page data it wrote.
     */
    public long receiveRound(ReadableByteChannel in) {
        requireOpen("receive a round");
        StreamImageSource image = open(in);
        long[] written = new long[1];
        run(() -> {
            RoundImage round = roundOf(image, rounds + 1, false, imagePid);
            List<Integer> members = round.members().isEmpty() ? List.of(imagePid) : round.members();
            endCopiesBut(members);
            StreamImageSource member = image;
            for (int i = 0; i < members.size(); i++) {
                if (i > 0) {
                    member = nextImage(member);
                }
                Copy copy = copyOf(members.get(i));
                RoundImage own = i == 0 ? round : roundOf(member, rounds + 1, false, members.get(i));
                List<MappingImage> layout = mappingsOf(member);
                MemoryRestorer.changeLayout(copy.puppet, copy.layout, layout, restored.sharedMemory(), restored.context().recreatedFiles());
                copy.layout = layout;
                MemoryRestorer.drop(copy.puppet, layout, own.drop());
                written[0] += member.writePages(copy.puppet);
            }
        });
        pageBytes += written[0];
        rounds++;
        return written[0];
    }

    /**
     * Applies the last part read from {@code in} and finishes the restore as a bundle restore would
     * (with {@code options.beforeSocketsGoLive()}), returning the processes complete and stopped for the
     * caller to resume or kill. Its report's time runs from the first round.
     */
    public RestoredProcess finish(ReadableByteChannel in, RestoreOptions options) {
        return finish(in, options, null, null);
    }

    /**
     * {@link #finish(ReadableByteChannel, RestoreOptions)} of a last part that may leave pages at the source
     * (post-copy): those pages are fetched over {@code pagesFromSource}/{@code requestsToSource} (which become the
     * fetcher's) as the copy touches them and pushed by the source meanwhile; {@link #postcopy()} follows that. A last
     * part that leaves pages behind with no link given fails the restore.
     */
    public RestoredProcess finish(ReadableByteChannel in, RestoreOptions options, ReadableByteChannel pagesFromSource,
                                  WritableByteChannel requestsToSource) {
        requireOpen("finish");
        StepTimer steps = new StepTimer();
        StreamImageSource image = open(in);
        steps.lap("objects");
        run(() -> {
            RestoreEngine.FullImage full = RestoreEngine.FullImage.of(image);
            SysvObjects.refuseIn(image.objects(), "pre-copy");
            if (full.process().pid() != imagePid || full.process().ownPidNamespace() != ownPidNamespace) {
                throw new ImageException(ImageException.Reason.CORRUPT, source, "the last part is of process " + full.process().pid()
                    + (full.process().ownPidNamespace() ? " in a PID namespace of its own" : "") + ", the rounds before of process "
                    + imagePid + (ownPidNamespace ? " in a PID namespace of its own" : ""));
            }
            ProcessTree tree = TreeBuilder.treeOf(image.objects());
            steps.lap("parse");
            List<ProcessTree.Member> live = tree == null ? List.of(copies.get(imagePid).member) : tree.live();
            // the process exists: its namespace is decided, and an id taken here now (by no process of ours) is a refusal
            List<Integer> ids = new ArrayList<>(tree == null ? full.threads().stream().map(ThreadImage::tid).toList() : tree.allTids());
            ids.removeAll(copies.keySet());
            RestoreOptions restoreWith = new RestoreOptions(restored.inNewPidNamespace());
            RestoreEngine.preflight(image.objects(), full, restoreWith, ids, true);
            RestoreEngine.requireSameXsave(restored.puppet(), image.header());
            cgroup.apply(full.process().cgroupLimits());
            steps.lap("preflight");
            if (tree != null || copies.size() > 1) {
                reshape(tree);
                steps.lap("tree");
            }
            long pages = pageBytes;
            List<RestoreEngine.LaidOut> laidOut = new ArrayList<>();
            ImageSource member = image;
            RestoreEngine.FullImage memberImage = full;
            for (int i = 0; i < live.size(); i++) {
                if (i > 0) {
                    member = nextImage((StreamImageSource) member);
                    RestoreEngine.requireSameXsave(restored.puppet(), member.header());
                    memberImage = RestoreEngine.FullImage.of(member);
                    TreeBuilder.requireMember(live.get(i), memberImage.process());
                    RestoreEngine.preflight(member.objects(), memberImage, restoreWith, List.of(), true);
                }
                RoundImage round = roundOf(member, rounds + 1, true, live.get(i).pid());
                memberImage.mappings().stream().filter(m -> m.carried() != null).findFirst().ifPresent(m -> {
                    // a file only held open travels in the last part, recreated before the descriptors; a mapped one in no round
                    throw new RefusedException("process " + round.pid() + " mapped " + m.name() + " during its pre-copy, a file whose"
                        + " contents travel in the image, which pre-copy does not carry in its rounds yet; migrate it in bundle mode");
                });
                Copy copy = copyOf(live.get(i).pid());
                if (copy.forkedFrom == null) {
                    MemoryRestorer.changeLayout(copy.puppet, copy.layout, memberImage.mappings(), restored.sharedMemory(),
                        restored.context().recreatedFiles());
                    copy.layout = memberImage.mappings();
                    MemoryRestorer.drop(copy.puppet, copy.layout, round.drop());
                    steps.lap("layout");
                    pages += member.writePages(copy.puppet);
                } else {
                    // no round before: the last part holds every page it stores
                    InheritedPages inherited = new InheritedPages(copy.puppet, MemoryRestorer.inherit(copy.puppet, copy.forkedFrom,
                        memberImage.mappings(), restored.sharedMemory(), restored.context().recreatedFiles()));
                    copy.layout = memberImage.mappings();
                    copy.forkedFrom = null;
                    steps.lap("layout");
                    pages += member.writePages(inherited);
                    inherited.dropUnstored(copy.layout);
                }
                steps.lap("pages");
                // with a page link the root's post-copy starts even with nothing left behind: the source waits for its end
                if (!round.leftBehind().isEmpty() || i == 0 && pagesFromSource != null) {
                    if (i > 0 || pagesFromSource == null) {
                        throw new FailedException(source + " left pages of process " + round.pid() + " at the source, which "
                            + (i > 0 ? "post-copy fetches for the root of a tree alone" : "this restore has no page link to fetch")
                            + "; the stream is inconsistent");
                    }
                    postcopy = PageFetcher.start(copy.puppet, copy.layout, PageSet.of(round.leftBehind()), pagesFromSource,
                        requestsToSource, killTargets(), FdRestorer.firstNumberLeftAlone(copy.puppet, member.objects()));
                    steps.lap("post-copy start");
                }
                if (i == 0) {
                    TimeNamespaces.awaitClocksPast(restored.pid(), full.process().clocks());
                }
                restored.context().recreatedFiles().recreate(member.objects());
                laidOut.add(new RestoreEngine.LaidOut(copy.puppet, member, memberImage, live.get(i).parentFiles()));
            }
            int descriptors = RestoreEngine.buildAll(laidOut, restored.context(), steps);
            int mappings = laidOut.stream().mapToInt(l -> l.full().mappings().size()).sum();
            int threads = laidOut.stream().mapToInt(l -> l.full().threads().size()).sum();
            pageBytes = pages;
            RestoreEngine.finish(restored, threads, mappings, pageBytes, image.header().pageSize(), descriptors, options, start, steps);
        });
        ended = true;
        rounds++;
        return restored;
    }

    /** The post-copy serving the copy's missing pages, once {@link #finish} started one; null without. */
    public PageFetcher postcopy() {
        return postcopy;
    }

    /** The processes whose SIGKILL ends the copy, wherever it is: the init of its PID namespace if it has one, else each. */
    private List<Integer> killTargets() {
        if (restored.inNewPidNamespace()) {
            return List.of(Integer.parseInt(new ProcFs(restored.pid()).status().get("PPid").trim()));
        }
        return restored.pids();
    }

    /**
     * Gives the tree being built the shape of the frozen one ({@code tree}; null: the root alone is left): a process
     * ended at the source since the first round is ended here, one forked since (or a zombie now) is forked by its
     * parent; a process that changed its parent, session or group meanwhile cannot be given them, and fails the move.
     */
    private void reshape(ProcessTree tree) {
        List<ProcessTree.Member> members = tree == null ? List.of(copies.get(imagePid).member) : tree.members();
        Map<Integer, ProcessTree.Member> byPid = new LinkedHashMap<>();
        members.forEach(m -> byPid.put(m.pid(), m));
        endCopiesBut(members.stream().filter(m -> !m.zombie()).map(ProcessTree.Member::pid).toList());
        for (ProcessTree.Member m : members.subList(1, members.size())) {
            Copy existing = copies.get(m.pid());
            if (existing == null || m.zombie()) {
                Copy parent = copyOf(m.ppid());
                if (existing != null) {
                    endCopy(m.pid());                       // a zombie now: made again from its parent, to end as it did
                }
                Puppet child = TreeBuilder.forkMember(parent.puppet, m, byPid.get(m.ppid()), restored::adopt);
                if (child != null) {
                    // a copy of its parent's address space, its own built in it from the last part, sharing what they share
                    Copy copy = new Copy(child, m, List.of());
                    copy.forkedFrom = parent.layout;
                    copies.put(m.pid(), copy);
                }
                continue;
            }
            ProcessTree.Member was = existing.member;
            if (was.ppid() != m.ppid() || was.sid() != m.sid() || was.pgid() != m.pgid()) {
                throw new FailedException("process " + m.pid() + " changed its parent, session or process group during the pre-copy ("
                    + was.ppid() + "/" + was.sid() + "/" + was.pgid() + " -> " + m.ppid() + "/" + m.sid() + "/" + m.pgid()
                    + "), which a restore cannot give it; migrate again");
            }
        }
    }

    /** Ends every copy but the root whose pid {@code keep} does not hold, each after its children. */
    private void endCopiesBut(List<Integer> keep) {
        List<Integer> gone = new ArrayList<>(copies.keySet());
        gone.removeAll(keep);
        gone.remove(Integer.valueOf(imagePid));
        java.util.Collections.reverse(gone);
        gone.forEach(this::endCopy);
    }

    /** Kills the copy of process {@code pid} and lets its parent's copy reap it. */
    private void endCopy(int pid) {
        Copy copy = copies.remove(pid);
        Copy parent = copyOf(copy.member.ppid());
        parent.puppet.reapChild(copy.puppet, pid);
        restored.disown(copy.puppet);
    }

    private Copy copyOf(int pid) {
        Copy copy = copies.get(pid);
        if (copy == null) {
            throw new FailedException(source + " names process " + pid + ", which no earlier round created here; the stream is"
                + " inconsistent");
        }
        return copy;
    }

    /** The image after {@code image} in the same round: the next process's. */
    private static StreamImageSource nextImage(StreamImageSource image) throws java.io.IOException {
        StreamImageSource next = (StreamImageSource) image.next();
        RestoreEngine.requireCompatible(next);
        return next;
    }

    /** Kills the half-built process; nothing of it is left. */
    public void abort() {
        if (!ended) {
            ended = true;
            restored.kill();
        }
    }

    /** Aborts unless {@link #finish} handed the process over. */
    @Override
    public void close() {
        abort();
    }

    private StreamImageSource open(ReadableByteChannel in) {
        try {
            return RestoreEngine.openStream(in, source);
        } catch (RuntimeException e) {
            abort();
            throw new FailedException(e.getMessage() + "; the half-restored process " + restored.pid() + " was killed", e);
        }
    }

    /** A step on the half-built process; if it fails, the process is killed and this target ends. */
    private void run(RestoreEngine.RestoreStep step) {
        try {
            RestoreEngine.killOnFailure(restored, source, step);
        } catch (RuntimeException | Error e) {
            ended = true;
            if (postcopy != null) {
                postcopy.close();
                if (postcopy.failure() != null) {
                    throw new FailedException(postcopy.failure(), e); // why the copy died under the restore
                }
            }
            throw e;
        }
    }

    /**
     * The image's round object: it must be round {@code number}, the last part or not as expected, of this protocol, and
     * of process {@code pid} (as it sees itself; null: any).
     */
    private static RoundImage roundOf(ImageSource image, int number, boolean last, Integer pid) throws RefusedException {
        RoundImage round;
        try {
            round = image.objects().one(RoundImage.class);
        } catch (ImageException e) {
            throw new RefusedException(image.name() + " is not a round of a pre-copy stream (" + e.getMessage() + ")", e);
        } catch (UncheckedIOException e) {
            throw new RefusedException(e.getCause().getMessage(), e.getCause());
        }
        if (round.protocol() != RoundImage.PROTOCOL) {
            throw new RefusedException(image.name() + " speaks pre-copy protocol " + round.protocol() + "; this pmig speaks "
                + RoundImage.PROTOCOL + " (update both nodes to the same pmig)");
        }
        if (round.round() != number || round.last() != last) {
            throw new RefusedException(image.name() + " sent " + (round.last() ? "the last part" : "round " + round.round())
                + " where " + (last ? "the last part" : "round " + number) + " was expected");
        }
        if (pid != null && round.pid() != pid) {
            throw new FailedException(image.name() + " sent an image of process " + round.pid() + " where process " + pid
                + "'s belongs; the stream is inconsistent");
        }
        return round;
    }

    private static List<MappingImage> mappingsOf(ImageSource image) {
        try {
            return image.objects().all(MappingImage.class);
        } catch (UncheckedIOException e) {
            throw new RefusedException(e.getCause().getMessage(), e.getCause());
        }
    }

    private void requireOpen(String what) {
        if (ended) {
            throw new IllegalStateException("cannot " + what + " of the pre-copy into process " + restored.pid()
                + ": it was finished or aborted");
        }
    }
}
