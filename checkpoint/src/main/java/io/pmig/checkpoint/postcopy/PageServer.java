package io.pmig.checkpoint.postcopy;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.ptrace.RemoteMemory;
import io.pmig.nativeio.NativeMemory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The source side of a post-copy: serves the pages a pre-copy's last part left behind from the frozen original's
 * memory until the destination has every one in place. The caller's thread sends, the pages the copy faulted on first
 * (each request answered with a frame from the faulting page on), then the rest in address order; a thread of its own,
 * started and joined here, reads the requests. The original must stay frozen throughout and must never run again once
 * its copy resumed: whatever {@link #serve} returns or throws, the caller kills it.
 */
public final class PageServer {
    /** What the request reader hands over when the link ended without the destination's end. */
    private static final long LOST = Long.MIN_VALUE;
    private static final long HOLD_POLL_MILLIS = 10;

    private final int pid;
    private final PageSet left;
    private final ReadableByteChannel requests;
    private final WritableByteChannel pages;
    private volatile String lostBecause;
    /** Whether the push in address order may go on; until then only requests are answered (fault tests hold it). */
    private BooleanSupplier mayPush = () -> true;

    /** {@code pid}: the frozen original; {@code left}: the pages its last part left out, by their addresses there. */
    public PageServer(int pid, PageSet left, ReadableByteChannel requests, WritableByteChannel pages) {
        this.pid = pid;
        this.left = left;
        this.requests = requests;
        this.pages = pages;
    }

    /**
     * Pushes nothing (nor says the push ended) until {@code ready} says so, answering requests meanwhile: the daemon holds
     * the push until the copy runs, and a fault test longer, to strike while the copy runs without its pages.
     */
    public PageServer holdingPushUntil(BooleanSupplier ready) {
        mayPush = ready;
        return this;
    }

    /**
     * Sends every page left behind and waits for the destination to have them all in place; returns what was sent. Throws
     * {@link FailedException} if the link is lost first or the original cannot be read. Closes both channels.
     */
    public PostcopyReport serve() {
        long start = System.nanoTime();
        BlockingQueue<Long> requested = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> readRequests(requested), "pmig-postcopy-requests");
        reader.start();
        PageSet unsent = new PageSet();
        unsent.addAll(left);
        ByteBuffer frame = PageStream.frameBuffer();
        long onFault = 0;
        long pushed = 0;
        try {
            while (!mayPush.getAsBoolean()) {
                Long request = requested.poll(HOLD_POLL_MILLIS, TimeUnit.MILLISECONDS);
                if (request != null) {
                    onFault += answer(request, unsent, frame);
                }
            }
            for (PageRange r : left.ranges()) {
                for (long a = r.start(); a < r.end(); a += PageStream.FRAME_PAGES * (long) PageStream.PAGE) {
                    Long request;
                    while ((request = requested.poll()) != null) {
                        onFault += answer(request, unsent, frame);
                    }

                    long end = Math.min(r.end(), a + PageStream.FRAME_PAGES * (long) PageStream.PAGE);
                    for (PageRange run : unsent.intersect(PageSet.of(List.of(new PageRange(a, end)))).ranges()) {
                        pushed += send(run, unsent, frame);
                    }
                }
            }
            frame.clear().putLong(0, PageStream.END).putInt(8, 0).limit(PageStream.HEADER_BYTES);
            PageStream.writeFully(pages, frame);
            // every page is on its way: requests still coming are for pages in flight
            long request;
            while ((request = requested.take()) != PageStream.END) {
                if (request == LOST) {
                    throw new IOException(lostBecause);
                }
            }
            return new PostcopyReport(left.bytes() / PageStream.PAGE, onFault, pushed, System.nanoTime() - start);
        } catch (IOException | RuntimeException e) {
            throw new FailedException("post-copy from process " + pid + " failed: " + e.getMessage() + " with "
                + unsent.bytes() / PageStream.PAGE + " of " + left.bytes() / PageStream.PAGE + " pages left behind not sent", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FailedException("post-copy from process " + pid + " was interrupted", e);
        } finally {
            closeQuietly();
            try {
                reader.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Answers a request: a frame from the page asked for on, of pages not sent yet; returns the pages sent. */
    private long answer(long request, PageSet unsent, ByteBuffer frame) throws IOException {
        if (request == LOST) {
            throw new IOException(lostBecause);
        }
        if (request == PageStream.END) {
            throw new IOException("the destination said it had every page while " + unsent.bytes() / PageStream.PAGE + " were not sent");
        }
        if (request == PageStream.KEEPALIVE || !unsent.contains(request)) {
            return 0; // sent already, on its way
        }
        List<PageRange> runs = unsent.intersect(PageSet.of(List.of(new PageRange(request,
            request + PageStream.FRAME_PAGES * (long) PageStream.PAGE)))).ranges();
        return send(runs.get(0), unsent, frame);
    }

    /** Sends one run of at most a frame's pages, read from the original now; returns the pages sent. */
    private long send(PageRange run, PageSet unsent, ByteBuffer frame) throws IOException {
        int count = (int) (run.length() / PageStream.PAGE);
        frame.clear().putLong(0, run.start()).putInt(8, count);
        RemoteMemory.read(pid, run.start(), NativeMemory.addressOf(frame) + PageStream.HEADER_BYTES, run.length());
        frame.limit(PageStream.HEADER_BYTES + (int) run.length());
        PageStream.writeFully(pages, frame);
        unsent.remove(run.start(), run.end());
        return count;
    }

    private void readRequests(BlockingQueue<Long> requested) {
        try {
            long address;
            do {
                address = PageStream.readAddress(requests);
                requested.add(address);
            } while (address != PageStream.END);
        } catch (IOException | RuntimeException e) {
            lostBecause = "the link to the destination was lost (" + e.getMessage() + ")";
            requested.add(LOST);
        }
    }

    private void closeQuietly() {
        for (java.nio.channels.Channel c : List.of(requests, pages)) {
            try {
                c.close();
            } catch (IOException ignored) {
                // the link is done with either way
            }
        }
    }
}
