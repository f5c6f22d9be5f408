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
 * <p>The forecast ({@link WriteForecast}) learns from every answer of the process's write tracker: at each round's
 * start and end, and every {@link #SLOT_NANOS} while a round is sent. Answers are grouped into slots of at least that
 * length; a round holds back the pages the forecast expects written again within the slots the round takes (all its
 * pages at the pace of the pages sent so far: how long plain pre-copy would take to send them): then plain pre-copy
 * would find them written again too, and its last part would hold them as well. Per tracked process; not thread-safe.
 */
public final class DataFilter {
    /** The sampling period while a round is sent: Ruan et al. sample the dirty bitmap every 50 ms; pages cycle faster here. */
    public static final long SLOT_NANOS = 25_000_000;
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

    private final WriteForecast forecast;
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

    /** A filter with {@code forecast}, whose first slot begins at {@code startNanos} (System.nanoTime, when tracking began). */
    public DataFilter(long startNanos, WriteForecast forecast) {
        this.forecast = forecast;
        this.slotStart = startNanos;
        this.firstSlotStart = startNanos;
    }

    /** The tracker's answer at {@code nowNanos}: the pages written since its previous answer. */
    public void observe(PageSet written, long nowNanos) {
        slot.addAll(written);
        if (nowNanos - slotStart >= SLOT_NANOS) {
            forecast.addSlot(slot);
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
        if (forecast.slots() == 0) {
            return new PageSet();
        }
        // a page's written share is per slot, as long as slots really were
        return forecast.rewrittenWithin(candidates, (double) horizonNanos * forecast.slots() / (slotStart - firstSlotStart));
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
