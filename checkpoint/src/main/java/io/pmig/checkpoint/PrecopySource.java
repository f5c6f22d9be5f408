package io.pmig.checkpoint;

import io.pmig.checkpoint.dirty.DirtyTracker;
import io.pmig.checkpoint.dirty.DirtyTracking;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageWriter;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.memory.MemoryDumper;
import io.pmig.checkpoint.precopy.RoundImage;
import io.pmig.checkpoint.proc.ProcFs;

import io.pmig.checkpoint.tree.PidNamespaces;
import io.pmig.checkpoint.tree.TimeNamespaces;
import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * The source side of a pre-copy (staged) migration: the process runs on while rounds of its memory
 * are sent, each an image of its own on the stream (image-format.md, "Pre-copy streams"); then
 * {@link #finish} freezes it and sends the last part. Round 1 holds every page an image would store,
 * each later round the pages written since the one before (the write tracker), and every round the
 * whole mapping layout, so the receiver follows mappings that appeared, vanished, grew or moved, and
 * drops what the process discarded. {@link #shouldStop()} applies the {@link PrecopyOptions}.
 *
 * <p>A failed round or last part ends the session: tracking stops and the process runs on untouched.
 * {@link #close()} without {@link #finish} does the same. The process never holds a trace of the
 * session (the tracker's descriptor is the engine's; closing it drops every write protection). Must be
 * used on the thread that started it (ptrace).
 */
public final class PrecopySource implements AutoCloseable {
    private final int pid;
    /** The pid the process sees for itself, and whether it lives in a PID namespace of its own (the rounds say both). */
    private final int imagePid;
    private final boolean ownPidNamespace;
    private final String exe;
    private final PrecopyOptions options;
    private final CheckpointEngine engine;
    private final MemoryDumper memory;
    private final DirtyTracker tracker;
    private final List<Round> rounds = new ArrayList<>();
    /** Pages the receiver holds from earlier rounds (a superset: ranges it unmapped since may stay in). */
    private PageSet sent = new PageSet();
    /** Pages written during the previous round, found when it ended; the next round sends them. */
    private PageSet dirtiedMeanwhile = new PageSet();
    /** The layout the last round sent. */
    private List<MappingImage> layout = List.of();
    /** The session is over: the tracker closed, or handed to the last part's {@link FrozenCheckpoint}. */
    private boolean closed;

    PrecopySource(int pid, PrecopyOptions options, CheckpointEngine engine) {
        this.pid = pid;
        this.imagePid = PidNamespaces.innerId(pid);
        this.ownPidNamespace = PidNamespaces.inOwnNamespace(pid);
        this.exe = new ProcFs(pid).readLink("exe");
        this.options = options;
        this.engine = engine;
        this.memory = new MemoryDumper(new ProcFs(pid));
        this.tracker = DirtyTracking.start(pid);
    }

    public int pid() {
        return pid;
    }

    /** How writes are tracked ("userfaultfd write-protect", "soft-dirty"), for reports. */
    public String trackingMethod() {
        return tracker.method();
    }

    /** The rounds sent so far, in order; the last part too once sent. */
    public List<Round> rounds() {
        return List.copyOf(rounds);
    }

    /** {@link PrecopyOptions#shouldStop} of the rounds sent so far. */
    public boolean shouldStop() {
        return options.shouldStop(rounds);
    }

    /**
     * Sends the next round onto {@code out} as one complete image while the process runs, and returns
     * what it cost. The channel stays open and is the caller's.
     */
    public Round sendRound(WritableByteChannel out) {
        requireOpen("send a round");
        long start = System.nanoTime();
        int number = rounds.size() + 1;
        ImageWriter writer = null;
        try {
            List<MappingImage> now;
            MemoryDumper.PagePlan plan;
            PageSet drop;
            if (number == 1) {
                now = memory.mappings();
                plan = memory.plan(now);
                drop = new PageSet();
            } else {
                PageSet written = dirtiedMeanwhile;
                written.addAll(PageSet.of(tracker.written()));
                now = memory.mappings(layout);
                written = written.intersect(mapped(now));
                plan = memory.plan(now, written);
                drop = sent.intersect(written);
                drop.removeAll(plan.pages());
            }
            now.stream().filter(m -> m.carried() != null).findFirst().ifPresent(m -> {
                throw new RefusedException("process " + pid + " mapped " + m.name() + " during its pre-copy, a file whose contents "
                    + "travel in the image, which pre-copy does not carry yet; migrate it in bundle mode");
            });
            writer = ImageWriter.to(out, ImageHeader.forThisMachine(0, 0));
            writer.writeObject(new RoundImage(RoundImage.PROTOCOL, number, false, imagePid, ownPidNamespace, exe, drop.ranges(),
                TimeNamespaces.clocksOf(pid)));
            for (MappingImage m : now) {
                writer.writeObject(m);
            }
            PageSet copied = memory.writePagesWhileRunning(plan, writer);
            writer.close();
            long resent = sent.intersect(copied).bytes() / MemoryDumper.PAGE;
            remember(now, drop, copied);
            dirtiedMeanwhile = PageSet.of(tracker.written());
            Round round = new Round(number, false, copied.bytes() / MemoryDumper.PAGE, writer.bytesWritten(),
                System.nanoTime() - start, dirtiedMeanwhile.bytes() / MemoryDumper.PAGE, drop.bytes() / MemoryDumper.PAGE, resent);
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
     * Freezes the process and sends the last part: the pages written since the last round, the pages to
     * drop, and everything else a bundle image holds (task state, descriptors, sockets in repair mode).
     * Returns the process still frozen, as {@link CheckpointEngine#checkpoint(int, WritableByteChannel,
     * CheckpointOptions)} does; downtime runs from here to the restored copy's resume. Ends the session
     * whatever happens; on failure tracking stops and the process runs on untouched. On success tracking
     * stops once the returned checkpoint is committed or aborted: closing the userfaultfd of a live process
     * walks the page tables of every tracked mapping (to lift each protection), tens of ms per GB that
     * would compete with the restore while the service is down; after the kill of a commit it costs nothing.
     */
    public FrozenCheckpoint finish(WritableByteChannel out, CheckpointOptions checkpointOptions) {
        requireOpen("finish");
        int number = rounds.size() + 1;
        long[] droppedResent = new long[2]; // set inside the frozen step, for the report
        FrozenCheckpoint frozen;
        try {
            frozen = engine.checkpoint(pid, List.of(pid), out, checkpointOptions, m -> m.mappings(layout), (m, now, steps) -> {
                PageSet mapped = mapped(now);
                PageSet written = dirtiedMeanwhile;
                written.addAll(PageSet.of(tracker.written(true)));
                steps.lap("written pages");
                written = written.intersect(mapped);
                MemoryDumper.PagePlan plan = m.plan(now, written);
                steps.lap("page plan");
                PageSet drop = sent.intersect(written);
                drop.removeAll(plan.pages());
                // a page sent before and not written since may still be gone: discarded (MADV_DONTNEED
                // and the like), which no write tracker reports; what pagemap no longer stores is dropped
                PageSet unwritten = sent.intersect(mapped);
                unwritten.removeAll(written);
                PageSet gone = m.notStored(now, unwritten);
                drop.addAll(gone);
                steps.lap("pages gone");
                droppedResent[0] = drop.bytes() / MemoryDumper.PAGE;
                droppedResent[1] = sent.intersect(plan.pages()).bytes() / MemoryDumper.PAGE;
                return new CheckpointEngine.PageSelection(List.of(new RoundImage(RoundImage.PROTOCOL, number, true, imagePid, ownPidNamespace, exe,
                    drop.ranges(), TimeNamespaces.clocksOf(pid))), plan);
            });
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
        closed = true;
        frozen.afterDecision(tracker::close);
        CheckpointReport r = frozen.report();
        rounds.add(new Round(number, true, r.pagesStored(), r.imageBytes(), r.frozenNanos(), 0, droppedResent[0], droppedResent[1]));
        return frozen;
    }

    /**
     * Stops tracking; the process keeps running and holds no trace of the session. After {@link #finish}
     * it does nothing: the last part's checkpoint ends tracking.
     */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            tracker.close();
        }
    }

    /** What the receiver holds after this round: its unmapped ranges and dropped pages gone, the copied pages in. */
    private void remember(List<MappingImage> now, PageSet drop, PageSet copied) {
        PageSet kept = sent.intersect(mapped(now));
        kept.removeAll(drop);
        kept.addAll(copied);
        sent = kept;
        layout = now;
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
