package io.pmig.checkpoint;

import io.pmig.checkpoint.dirty.DirtyTracker;
import io.pmig.checkpoint.dirty.DirtyTracking;
import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageWriter;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.memory.MemoryDumper;
import io.pmig.checkpoint.postcopy.PagesLeftBehind;
import io.pmig.checkpoint.precopy.DataFilter;
import io.pmig.checkpoint.precopy.WriteForecast;
import io.pmig.checkpoint.precopy.RoundImage;
import io.pmig.checkpoint.proc.ProcFs;

import io.pmig.checkpoint.tree.PidNamespaces;
import io.pmig.checkpoint.tree.ProcessTree;
import io.pmig.checkpoint.tree.TimeNamespaces;
import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * The source side of a pre-copy (staged) migration: the process, or the process tree, runs on while rounds of its
 * memory are sent, each round an image per process on the stream (image-format.md, "Pre-copy streams"); then
 * {@link #finish} freezes it and sends the last part. Round 1 holds every page an image would store, each later
 * round the pages written since the one before (each process's own write tracker), and every round the whole mapping
 * layout, so the receiver follows mappings that appeared, vanished, grew or moved, and drops what the process
 * discarded. A tree's first round carries its shape, so the receiver forks every process before any page arrives; a
 * process that ends during the rounds leaves them, and one forked meanwhile comes whole in the last part.
 * {@link #shouldStop()} applies the {@link PrecopyOptions}.
 *
 * <p>A failed round or last part ends the session: tracking stops and the processes run on untouched.
 * {@link #close()} without {@link #finish} does the same. No process ever holds a trace of the session (the
 * trackers' descriptors are the engine's; closing one drops every write protection). Must be used on the thread that
 * started it (ptrace).
 */
public final class PrecopySource implements AutoCloseable {
    private final int pid;
    /** Whether the root lives in a PID namespace of its own (the rounds say so, and the ids they carry are inside it). */
    private final boolean ownPidNamespace;
    private final String exe;
    private final PrecopyOptions options;
    private final CheckpointEngine engine;
    /** The processes whose memory the rounds carry, the root first: the live ones of the tree when the session began. */
    private final List<Tracked> tracked = new ArrayList<>();
    /** The tree as it was when the session began (the first round carries it), or null for a process alone. */
    private final ProcessTree tree;
    /** The host pids the pre-flight checked (zombies included): a last part that freezes the same set skips the check. */
    private final List<Integer> checkedPids;
    private final List<Round> rounds = new ArrayList<>();
    /** The root's pages a post-copy last part left at the source. */
    private PageSet leftBehind = new PageSet();
    /** The session is over: the trackers closed, or handed to the last part's {@link FrozenCheckpoint}. */
    private boolean closed;

    /** One process of the session: its memory, its write tracker, and what the receiver holds of it. */
    private static final class Tracked {
        final int pid;
        /** The pid the process sees for itself. */
        final int imagePid;
        final MemoryDumper memory;
        final DirtyTracker tracker;
        /** Pages the receiver holds from earlier rounds (a superset: ranges it unmapped since may stay in). */
        PageSet sent = new PageSet();
        /** Pages written during the previous round, and those the data filter held back from it; the next round sends them. */
        PageSet dirtiedMeanwhile = new PageSet();
        /** Forecasts the pages about to be written again, which a round holds back; null: the filter is off. */
        final DataFilter filter;
        /** The layout the last round sent. */
        List<MappingImage> layout = List.of();

        Tracked(int pid, WriteForecast.Model filter) {
            this.pid = pid;
            this.imagePid = PidNamespaces.innerId(pid);
            this.memory = new MemoryDumper(new ProcFs(pid));
            this.tracker = DirtyTracking.start(pid);
            WriteForecast forecast = filter.create();
            this.filter = forecast == null ? null : new DataFilter(System.nanoTime(), forecast);
        }

        /** What the receiver holds after a round: its unmapped ranges and dropped pages gone, the copied pages in. */
        void remember(List<MappingImage> now, PageSet drop, PageSet copied) {
            PageSet kept = sent.intersect(mapped(now));
            kept.removeAll(drop);
            kept.addAll(copied);
            sent = kept;
            layout = now;
        }
    }

    PrecopySource(List<Integer> tree, PrecopyOptions options, CheckpointEngine engine) {
        this.pid = tree.get(0);
        this.ownPidNamespace = PidNamespaces.inOwnNamespace(pid);
        this.exe = new ProcFs(pid).readLink("exe");
        this.options = options;
        this.engine = engine;
        this.tree = tree.size() > 1 ? ProcessTree.of(tree) : null;
        this.checkedPids = List.copyOf(tree);
        try {
            for (int member : tree) {
                if (member == pid || !ProcessTree.ended(member)) {
                    tracked.add(new Tracked(member, options.filter()));
                }
            }
        } catch (RuntimeException | Error e) {
            tracked.forEach(t -> t.tracker.close());
            throw e;
        }
    }

    public int pid() {
        return pid;
    }

    /** How writes are tracked ("userfaultfd write-protect", "soft-dirty"), for reports. */
    public String trackingMethod() {
        return tracked.get(0).tracker.method();
    }

    /** Whether the rounds run the data filter ({@link PrecopyOptions#filter()}), for reports. */
    public boolean filtered() {
        return options.filter() != WriteForecast.Model.OFF;
    }

    /** The rounds sent so far, in order; the last part too once sent. */
    public List<Round> rounds() {
        return List.copyOf(rounds);
    }

    /** {@link PrecopyOptions#converged} of the rounds sent so far: the last part will be short. */
    public boolean converged() {
        return options.converged(rounds);
    }

    /** {@link PrecopyOptions#shouldStop} of the rounds sent so far. */
    public boolean shouldStop() {
        return options.shouldStop(rounds);
    }

    /**
     * Sends the next round onto {@code out} while the processes run, one complete image per process (the root's
     * first, naming the others that follow), and returns what it cost. The channel stays open and is the caller's.
     */
    public Round sendRound(WritableByteChannel out) {
        requireOpen("send a round");
        long start = System.nanoTime();
        int number = rounds.size() + 1;
        ImageWriter writer = null;
        try {
            // a process that ended since the last round leaves the session; the receiver ends its copy
            for (Tracked t : List.copyOf(tracked)) {
                if (t.pid != pid && ProcessTree.ended(t.pid)) {
                    tracked.remove(t);
                    t.tracker.close();
                }
            }
            List<Integer> members = tree == null ? List.of() : tracked.stream().map(t -> t.imagePid).toList();
            long pages = 0;
            long bytes = 0;
            long dirtied = 0;
            long dropped = 0;
            long resent = 0;
            long heldBack = 0;
            for (Tracked t : tracked) {
                List<MappingImage> now;
                MemoryDumper.PagePlan plan;
                PageSet drop;
                if (number == 1) {
                    now = t.memory.mappings();
                    plan = t.memory.plan(now);
                    drop = new PageSet();
                } else {
                    PageSet written = t.dirtiedMeanwhile;
                    written.addAll(scan(t));
                    now = mappingsOrNone(t);
                    written = written.intersect(mapped(now));
                    plan = t.memory.plan(now, written);
                    drop = t.sent.intersect(written);
                    drop.removeAll(plan.pages());
                }
                now.stream().filter(m -> m.carried() != null).findFirst().ifPresent(m -> {
                    throw new RefusedException("process " + t.pid + " mapped " + m.name() + " during its pre-copy, a file whose "
                        + "contents travel in the image, which pre-copy does not carry yet; migrate it in bundle mode");
                });
                writer = ImageWriter.to(out, ImageHeader.forThisMachine(0, 0));
                writer.writeObject(new RoundImage(RoundImage.PROTOCOL, number, false, t.imagePid, ownPidNamespace, exe, drop.ranges(),
                    TimeNamespaces.clocksOf(pid), t.pid == pid ? members : List.of(), List.of()));
                if (number == 1 && t.pid == pid && tree != null) {
                    writer.writeObject(tree);
                }
                for (MappingImage m : now) {
                    writer.writeObject(m);
                }
                t.dirtiedMeanwhile = new PageSet();
                DataFilter.Sent sent = t.filter == null
                    ? new DataFilter.Sent(t.memory.writePagesWhileRunning(plan, writer, () -> { }), new PageSet())
                    : t.filter.send(plan.pages(), now, t.memory, writer, t.dirtiedMeanwhile, () -> PageSet.of(writtenOrNone(t)));
                PageSet copied = sent.copied();
                writer.close();
                bytes += writer.bytesWritten();
                writer = null;
                pages += copied.bytes() / MemoryDumper.PAGE;
                resent += t.sent.intersect(copied).bytes() / MemoryDumper.PAGE;
                dropped += drop.bytes() / MemoryDumper.PAGE;
                t.remember(now, drop, copied);
                t.dirtiedMeanwhile.addAll(scan(t));
                dirtied += t.dirtiedMeanwhile.bytes() / MemoryDumper.PAGE;
                heldBack += sent.heldBack().bytes() / MemoryDumper.PAGE;
                t.dirtiedMeanwhile.addAll(sent.heldBack());
            }
            Round round = new Round(number, false, pages, bytes, System.nanoTime() - start, dirtied, dropped, resent, heldBack);
            rounds.add(round);
            return round;
        } catch (IOException | RuntimeException | Error e) {
            CheckpointEngine.abortQuietly(writer);
            close();
            if (e instanceof Error error) {
                throw error;
            }
            throw new FailedException("pre-copy round " + number + " of process " + pid + " failed: " + e.getMessage()
                + "; write tracking stopped and the process runs on untouched", e);
        }
    }

    /**
     * Freezes the process (the tree) and sends the last part: for each process the pages written since the last
     * round and the pages to drop (a process forked during the rounds: all its pages), and everything else a bundle
     * image holds (task state, descriptors, sockets in repair mode). Returns the processes still frozen, as
     * {@link CheckpointEngine#checkpoint(int, WritableByteChannel, CheckpointOptions)} does; downtime runs from here to
     * the restored copy's resume. Ends the session whatever happens; on failure tracking stops and the processes run on
     * untouched. On success tracking stops once the returned checkpoint is committed or aborted: closing the userfaultfd
     * of a live process walks the page tables of every tracked mapping (to lift each protection), tens of ms per GB
     * that would compete with the restore while the service is down; after the kill of a commit it costs nothing.
     */
    public FrozenCheckpoint finish(WritableByteChannel out, CheckpointOptions checkpointOptions) {
        return finish(out, checkpointOptions, false);
    }

    /**
     * {@link #finish(WritableByteChannel, CheckpointOptions)}, with {@code postcopy}: the last part leaves the root's
     * written pages of private anonymous memory out ({@link PagesLeftBehind}; {@link #pagesLeftBehind()}), and the
     * receiver's copy fetches them as it runs from a {@link io.pmig.checkpoint.postcopy.PageServer} over the returned
     * checkpoint's frozen original. From the moment the copy resumes, the original must never run again: the checkpoint
     * is to be committed whatever the post-copy's outcome, and a lost source loses the service (docs/checkpoint-engine.md,
     * "Post-copy").
     */
    public FrozenCheckpoint finish(WritableByteChannel out, CheckpointOptions checkpointOptions, boolean postcopy) {
        requireOpen("finish");
        int number = rounds.size() + 1;
        long[] droppedResent = new long[2]; // set inside the frozen step, for the report
        FrozenCheckpoint frozen;
        try {
            // the live members alone would differ from a frozen tree with a zombie, and re-run the sharing check frozen
            List<Integer> checked = checkedPids;
            frozen = engine.checkpoint(pid, checked, out, checkpointOptions, m -> {
                Tracked t = trackedAs(m.pid());
                return t == null ? m.mappings() : m.mappings(t.layout);
            }, (m, now, threads, steps) -> {
                Tracked t = trackedAs(m.pid());
                if (t == null) {
                    // forked during the rounds: the receiver has nothing of it yet
                    return new CheckpointEngine.PageSelection(List.of(lastPart(number, PidNamespaces.innerId(m.pid()), new PageSet(),
                        new PageSet())), m.plan(now));
                }
                PageSet mapped = mapped(now);
                PageSet written = t.dirtiedMeanwhile;
                written.addAll(PageSet.of(t.tracker.written(true)));
                steps.lap("written pages");
                written = written.intersect(mapped);
                // the root's hot pages of anonymous memory stay behind with post-copy: dropped there, fetched on first touch
                PageSet left = postcopy && t.pid == pid ? PagesLeftBehind.of(now, written, threads) : new PageSet();
                PageSet copied = written.intersect(mapped);
                copied.removeAll(left);
                MemoryDumper.PagePlan plan = m.plan(now, copied);
                steps.lap("page plan");
                PageSet drop = t.sent.intersect(copied);
                drop.removeAll(plan.pages());
                // a page sent before and not written since may still be gone: discarded (MADV_DONTNEED
                // and the like), which no write tracker reports; what pagemap no longer stores is dropped
                PageSet unwritten = t.sent.intersect(mapped);
                unwritten.removeAll(written);
                PageSet gone = m.notStored(now, unwritten);
                drop.addAll(gone);
                steps.lap("pages gone");
                droppedResent[0] += drop.bytes() / MemoryDumper.PAGE;
                droppedResent[1] += t.sent.intersect(plan.pages()).bytes() / MemoryDumper.PAGE;
                drop.addAll(left);
                leftBehind = left;
                return new CheckpointEngine.PageSelection(List.of(lastPart(number, t.imagePid, drop, left)), plan);
            });
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
        closed = true;
        frozen.afterDecision(() -> tracked.forEach(t -> t.tracker.close()));
        CheckpointReport r = frozen.report();
        rounds.add(new Round(number, true, r.pagesStored(), r.imageBytes(), r.frozenNanos(), 0, droppedResent[0], droppedResent[1], 0));
        return frozen;
    }

    private RoundImage lastPart(int number, int imagePid, PageSet drop, PageSet left) {
        return new RoundImage(RoundImage.PROTOCOL, number, true, imagePid, ownPidNamespace, exe, drop.ranges(), TimeNamespaces.clocksOf(pid),
            List.of(), left.ranges());
    }

    /** The root's pages the last part left at the source for post-copy (empty without), by their addresses. */
    public PageSet pagesLeftBehind() {
        return leftBehind;
    }

    /** The tracked process with host pid {@code hostPid}, or null for one forked during the rounds. */
    private Tracked trackedAs(int hostPid) {
        return tracked.stream().filter(t -> t.pid == hostPid).findFirst().orElse(null);
    }

    /**
     * Stops tracking; the processes keep running and hold no trace of the session. After {@link #finish} it does
     * nothing: the last part's checkpoint ends tracking.
     */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            tracked.forEach(t -> t.tracker.close());
        }
    }

    /** The mappings of a tracked process now, or none if it ended during the round (it leaves the session at the next). */
    private List<MappingImage> mappingsOrNone(Tracked t) {
        try {
            return t.memory.mappings(t.layout);
        } catch (RuntimeException e) {
            if (endedMember(t)) {
                return List.of();
            }
            throw e;
        }
    }

    /** The pages a tracked process wrote since its tracker was last asked (none if it ended meanwhile); its data filter learns them. */
    private PageSet scan(Tracked t) {
        PageSet written = PageSet.of(writtenOrNone(t));
        if (t.filter != null) {
            t.filter.observe(written, System.nanoTime());
        }
        return written;
    }

    /** The pages a tracked process wrote since the tracker was last asked, or none if it ended meanwhile. */
    private List<PageRange> writtenOrNone(Tracked t) {
        try {
            return t.tracker.written();
        } catch (RuntimeException e) {
            if (endedMember(t)) {
                return List.of();
            }
            throw e;
        }
    }

    /** A process of the tree other than the root that has ended (its copy is ended too once the receiver learns it). */
    private boolean endedMember(Tracked t) {
        return t.pid != pid && (!new ProcFs(t.pid).exists() || ProcessTree.ended(t.pid));
    }

    private static PageSet mapped(List<MappingImage> mappings) {
        PageSet out = new PageSet();
        for (MappingImage m : mappings) {
            if (m.backing() != MappingImage.Backing.KERNEL) {
                out.add(m.start(), m.end());
            }
        }
        return out;
    }

    private void requireOpen(String what) {
        if (closed) {
            throw new IllegalStateException("cannot " + what + " in the pre-copy of process " + pid
                + ": the session is finished or closed");
        }
    }
}
