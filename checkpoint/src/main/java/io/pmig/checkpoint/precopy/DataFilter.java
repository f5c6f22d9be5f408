package io.pmig.checkpoint.precopy;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.image.ImageWriter;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.memory.MemoryDumper;

import java.io.IOException;
import java.util.List;
import java.util.function.Supplier;

/**
 * The data filter of a pre-copy (after Ruan et al.; docs/checkpoint-engine.md, "The data filter"): keeps a round from
 * sending pages it would only send again. A round's pages go piece by piece ({@link #PIECE_PAGES}), and each piece
 * leaves out the pages written since the round began (the tracker has reported them: the next round sends them
 * anyway) and those forecast to be written again before the round is over. A page left out stays due: the next round
 * (or the last part) sends it and asks again, so a page that cooled down is re-added as soon as its history shows it;
 * correctness never depends on the forecast.
 *
 * <p>The forecast learns from every answer of the process's write tracker: at each round's start and end, and every
 * {@link #SLOT_NANOS} while a round is sent. Answers are grouped into slots of at least that length; a page's history
 * ({@link PageHistory}) is the decayed count of the slots it was written in. A page is held back when it was written
 * in at least {@link #MIN_RECENT_WRITES} slots lately (a page written once, or reported once with a fresh mapping and
 * then written, is never held) and  its written share of the slots, times the slots the round takes
 * (all its pages at the pace of the pages sent so far: how long plain pre-copy would take to send them), reaches
 * {@link #MIN_EXPECTED_WRITES} expected writes: then plain pre-copy would find it written again too, and its last part
 * would hold it as well. Per tracked process; not thread-safe.
 */
public final class DataFilter {
    /** The sampling period while a round is sent: Ruan et al. sample the dirty bitmap every 50 ms; pages cycle faster here. */
    public static final long SLOT_NANOS = 25_000_000;
    /** A slot's write counts 0.95 one slot later: about the last half second weighs. */
    static final double DECAY = 0.95;
    /** Three slots with a write, undecayed: a page rewritten at least twice lately. */
    static final double MIN_RECENT_WRITES = 2.5;
    /**
     * Two writes expected while the round is sent (P(no write) = e^-2 = 14% for a page written at random): a page held
     * back and not written again lands in the last part if the rounds stop after this one, where plain pre-copy would
     * have sent it.
     */
    static final double MIN_EXPECTED_WRITES = 2;
    /**
     * 32 MiB: the forecast is made again every ~50 ms of sending at this machine's pace (as Ruan et al. step through
     * their states); each piece's copy allocates its own two 4 MiB buffers.
     */
    static final long PIECE_PAGES = 8192;

    /**
     * Fewer pages written since the round began, once its first piece went, than a top-like process's few updates: the
     * rest goes whole and unsampled (pieces cost a pagemap read and two fresh 4 MiB buffers each, and samples a scan).
     */
    static final long QUIET_PAGES = 256;

    private final PageHistory history = new PageHistory(DECAY);
    /** The pages written in the slot under way, and when it began. */
    private PageSet slot = new PageSet();
    private long slotStart;
    /** When the first slot began: slots last longer than {@link #SLOT_NANOS} when the tracker is asked late. */
    private final long firstSlotStart;
    /** What sending pages has taken so far, all rounds together: how far ahead a forecast looks. */
    private long sendingNanos;
    private long pagesSent;

    /** What a round sent of a process ({@code copied}), and what it left out, still due ({@code heldBack}). */
    public record Sent(PageSet copied, PageSet heldBack) {
    }

    /** A filter whose first slot begins at {@code startNanos} (System.nanoTime, when tracking began). */
    public DataFilter(long startNanos) {
        this.slotStart = startNanos;
        this.firstSlotStart = startNanos;
    }

    /** The tracker's answer at {@code nowNanos}: the pages written since its previous answer. */
    public void observe(PageSet written, long nowNanos) {
        slot.addAll(written);
        if (nowNanos - slotStart >= SLOT_NANOS) {
            history.addSlot(slot);
            slot = new PageSet();
            slotStart = nowNanos;
        }
    }

    /**
     * Sends the {@code planned} pages of a round (of {@code layout}) onto {@code writer}, piece by piece, without those
     * written since the round began and those forecast to be written again while it is sent. While it sends, the
     * tracker is asked every slot ({@code tracker}: its answer, the pages written since it was last asked), which
     * this filter learns and which {@code writtenMeanwhile} (what the next round sends) collects.
     */
    public Sent send(PageSet planned, List<MappingImage> layout, MemoryDumper memory, ImageWriter writer, PageSet writtenMeanwhile,
                     Supplier<PageSet> tracker) throws IOException {
        Runnable sample = () -> {
            long now = System.nanoTime();
            if (now - slotStart >= SLOT_NANOS) {
                PageSet written = tracker.get();
                writtenMeanwhile.addAll(written);
                observe(written, now);
            }
        };
        PageSet copied = new PageSet();
        PageSet held = new PageSet();
        long roundPages = planned.bytes() / MemoryDumper.PAGE;
        PageSet rest = new PageSet();
        rest.addAll(planned);
        while (!rest.isEmpty()) {
            long start = System.nanoTime();
            sample.run();
            // a process that wrote next to nothing while the first piece went has nothing to leave out: the rest in one piece
            boolean writing = rest.bytes() == planned.bytes() || writtenMeanwhile.bytes() >= QUIET_PAGES * MemoryDumper.PAGE;
            PageSet piece = rest;
            if (writing) {
                piece = first(rest, PIECE_PAGES);
                rest.removeAll(piece);
            } else {
                rest = new PageSet();
            }
            PageSet send = new PageSet();
            send.addAll(piece);
            send.removeAll(writtenMeanwhile);
            send.removeAll(holdBack(send, pagesSent == 0 ? 0 : roundPages * sendingNanos / pagesSent));
            // the rest of a quiet process's round goes as without the filter, the tracker asked only at its end
            PageSet sent = memory.writePagesWhileRunning(memory.plan(layout, send), writer, writing ? sample : () -> { });
            copied.addAll(sent);
            piece.removeAll(send);
            held.addAll(piece);
            sendingNanos += System.nanoTime() - start;
            pagesSent += sent.bytes() / MemoryDumper.PAGE;
        }
        return new Sent(copied, held);
    }

    /**
     * Of {@code candidates}, the pages forecast to be written again within {@code horizonNanos}. Pages written in the
     * slot still under way count from the next forecast on.
     */
    public PageSet holdBack(PageSet candidates, long horizonNanos) {
        PageSet held = new PageSet();
        if (history.slots() == 0) {
            return held;
        }
        // a page's written share is per slot, as long as slots really were
        double horizonSlots = (double) horizonNanos * history.slots() / (slotStart - firstSlotStart);
        for (PageRange r : candidates.ranges()) {
            long runStart = -1;
            for (long page = r.start(); page < r.end(); page += MemoryDumper.PAGE) {
                boolean hot = history.recentWrites(page) >= MIN_RECENT_WRITES && history.writtenShare(page) * horizonSlots >= MIN_EXPECTED_WRITES;
                if (hot && runStart < 0) {
                    runStart = page;
                } else if (!hot && runStart >= 0) {
                    held.add(runStart, page);
                    runStart = -1;
                }
            }
            if (runStart >= 0) {
                held.add(runStart, r.end());
            }
        }
        return held;
    }

    /** The lowest {@code count} pages of {@code pages} (all if fewer). */
    static PageSet first(PageSet pages, long count) {
        PageSet out = new PageSet();
        long room = count * MemoryDumper.PAGE;
        for (PageRange r : pages.ranges()) {
            long end = Math.min(r.end(), r.start() + room);
            out.add(r.start(), end);
            room -= end - r.start();
            if (room == 0) {
                break;
            }
        }
        return out;
    }
}
