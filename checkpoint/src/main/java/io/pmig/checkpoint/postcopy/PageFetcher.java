package io.pmig.checkpoint.postcopy;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Userfaultfd;
import io.pmig.checkpoint.ptrace.FrozenProcess;
import io.pmig.checkpoint.ptrace.InjectedSyscalls;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestoreProgram;
import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The destination side of a post-copy: the copy runs while pages of it are still at the source. Its mappings holding
 * such pages are registered in missing mode on a userfaultfd made inside it (as the write tracker's is, shared/FACTS.md),
 * so a touch of a missing page waits until the page is in place. Two threads of its own, started here and ended by
 * {@link #awaitEnd} or {@link #close}: the fault reader asks the source for each missing page touched (a page the
 * source never had is filled with zeros here) and follows the copy's layout changes (a discarded or unmapped page is
 * no longer missing, a moved one is missing where it went; a fork, which would need the child served as well, fails
 * the post-copy); the page receiver places every page the source sends, those asked for and those pushed in address
 * order, and says when none is missing.
 *
 * <p>The copy holds a reference of its own to the userfaultfd until every page is in place: should this process die
 * (a daemon killed), the ranges stay registered and a touch of a missing page waits, never reading zeros.
 *
 * <p>If the link to the source breaks first (the source daemon died, say), the pages still there are lost: the copy
 * is killed at once (SIGKILL through pidfds taken at the start, never a later process with a reused pid), and
 * {@link #awaitEnd} reports it. The copy's layout events and placed pages are serialized by one lock, held while
 * events are read: a page is never placed where the copy has just discarded it (the kernel refuses a copy while an
 * event of a changing layout is unread, EAGAIN).
 */
public final class PageFetcher implements AutoCloseable {
    private static final long FEATURES = Userfaultfd.UFFD_FEATURE_EVENT_FORK | Userfaultfd.UFFD_FEATURE_EVENT_REMAP
        | Userfaultfd.UFFD_FEATURE_EVENT_REMOVE | Userfaultfd.UFFD_FEATURE_EVENT_UNMAP;
    /** Not user-mode-only: the kernel's own accesses (a read(2) into a missing page) must wait for the page too. */
    private static final long UFFD_FLAGS = Linux.O_CLOEXEC | Linux.O_NONBLOCK;
    private static final int POLL_MILLIS = 100;
    private static final int EVENTS_PER_READ = 64;

    private final int pid;
    private final int uffd;
    /** The copy's own reference to the userfaultfd, by its number there. */
    private final int uffdInCopy;
    private final MissingPages missing;
    private final long pagesLeft;
    private final ReadableByteChannel pagesIn;
    private final WritableByteChannel requestsOut;
    /** pidfds of the processes whose SIGKILL ends the copy (the init of its PID namespace first, if it has one). */
    private final List<Integer> killTargets;
    /** The ranges registered in the copy. */
    private final List<PageRange> registered;
    private final ReentrantLock layout = new ReentrantLock();
    private final Thread faultReader;
    private final Thread pageReceiver;
    private final long start = System.nanoTime();
    private volatile boolean stopping;
    private volatile String failure;
    private volatile boolean copyEnded;
    private volatile long faults;
    private volatile long placed;
    private volatile long endedAt;
    private volatile long lastSent = System.nanoTime();
    private volatile boolean closed;

    private PageFetcher(int pid, int uffd, int uffdInCopy, List<PageRange> registered, PageSet missing, ReadableByteChannel pagesIn,
                        WritableByteChannel requestsOut, List<Integer> killTargets) {
        this.pid = pid;
        this.uffdInCopy = uffdInCopy;
        this.registered = registered;
        this.uffd = uffd;
        this.missing = new MissingPages(missing);
        this.pagesLeft = missing.bytes() / PageStream.PAGE;
        this.pagesIn = pagesIn;
        this.requestsOut = requestsOut;
        this.killTargets = killTargets;
        this.faultReader = new Thread(this::readFaults, "pmig-postcopy-faults-" + pid);
        this.pageReceiver = new Thread(this::receivePages, "pmig-postcopy-pages-" + pid);
    }

    /**
     * Registers the mappings of {@code layout} holding a page of {@code missing} (pages the copy must not hold: dropped
     * before) in the copy being built by {@code puppet}, and starts serving their faults from the source over
     * {@code pagesIn}/{@code requestsOut}, which become this fetcher's. {@code killTargets}: the pids whose SIGKILL ends
     * the copy, the init of its PID namespace first if it has one; {@code keepAt}: a descriptor number above those the
     * restore installs in the copy, where it keeps its own reference to the userfaultfd until every page is in place.
     * Call before anything may touch a missing page.
     */
    public static PageFetcher start(Puppet puppet, List<MappingImage> layout, PageSet missing, ReadableByteChannel pagesIn,
                                    WritableByteChannel requestsOut, List<Integer> killTargets, int keepAt) {
        List<Integer> pidfds = new ArrayList<>();
        List<PageRange> registered = new ArrayList<>();
        int uffd = -1;
        int uffdInCopy = -1;
        try {
            for (int target : killTargets) {
                pidfds.add(Linux.pidfdOpen(target));
            }
            int[] created = createIn(puppet, keepAt);
            uffd = created[0];
            uffdInCopy = created[1];
            Userfaultfd.api(uffd, FEATURES);
            for (MappingImage m : PagesLeftBehind.holding(layout, missing)) {
                if (!PagesLeftBehind.mayStayBehind(m)) {
                    throw new FailedException("the source left pages of " + m.name() + " at 0x" + Long.toHexString(m.start())
                        + " behind, which post-copy cannot fetch (not private anonymous memory); the stream is inconsistent");
                }
                Userfaultfd.register(uffd, m.start(), m.length(), Userfaultfd.UFFDIO_REGISTER_MODE_MISSING);
                registered.add(new PageRange(m.start(), m.end()));
            }
        } catch (RuntimeException e) {
            if (uffd >= 0) {
                Linux.close(uffd);
            }
            pidfds.forEach(Linux::close);
            throw e;
        }
        PageFetcher fetcher = new PageFetcher(puppet.pid(), uffd, uffdInCopy, registered, missing, pagesIn, requestsOut, pidfds);
        fetcher.faultReader.start();
        fetcher.pageReceiver.start();
        return fetcher;
    }

    /**
     * userfaultfd(2) run by the copy itself (the descriptor must belong to its memory), kept there at the first number
     * from {@code keepAt} on (above the descriptors its restore installs); returns this process's copy of it, and the
     * copy's number.
     */
    private static int[] createIn(Puppet puppet, int keepAt) {
        RestoreProgram create = puppet.newProgram();
        int call = create.call("userfaultfd for post-copy", Nr.USERFAULTFD, UFFD_FLAGS);
        int kept = create.callWithResultOf(call, new int[] {0}, "keep the copy's userfaultfd above its descriptors", Nr.FCNTL, 0,
            Linux.F_DUPFD_CLOEXEC, keepAt);
        create.tryCallWithResultOf(call, new int[] {0}, "close the userfaultfd's first number", Nr.CLOSE, 0);
        puppet.run(create);
        int inCopy = (int) create.result(kept);
        int pidfd = Linux.pidfdOpen(puppet.pid());
        try {
            return new int[] {Linux.pidfdGetfd(pidfd, inCopy), inCopy};
        } finally {
            Linux.close(pidfd);
        }
    }

    /**
     * Closes the copy's own reference to the userfaultfd, which it held through the post-copy (so that this process's
     * end could not unregister the ranges while pages were missing: they would read as zeros); it runs a close(2) of
     * it, stopped for that moment. The kernel unregisters the ranges once this process closes its own.
     */
    private void closeInCopy() {
        FrozenProcess frozen;
        try {
            frozen = FrozenProcess.freeze(pid);
        } catch (RuntimeException gone) {
            return; // the copy ended by itself: its descriptors went with it
        }
        try (InjectedSyscalls copy = new InjectedSyscalls(pid, pid, frozen.registers(pid))) {
            copy.call(Nr.CLOSE, uffdInCopy);
        } finally {
            frozen.thaw();
        }
    }

    /** Pages still missing in the copy. */
    public long pagesMissing() {
        layout.lock();
        try {
            return missing.pages();
        } finally {
            layout.unlock();
        }
    }

    /**
     * Waits until every page is in place (or the copy ended by itself meanwhile), ends the threads and returns what
     * came; the copy holds no trace of the post-copy then. Throws {@link FailedException} if the post-copy failed:
     * the copy was killed, and the message says why.
     */
    public PostcopyReport awaitEnd() {
        try {
            pageReceiver.join();
            if (failure == null && !copyEnded) {
                closeInCopy();
            }
            stopping = true;
            faultReader.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted while waiting for the pages");
        }
        close();
        if (failure != null) {
            throw new FailedException(failure);
        }
        long asked = faults;
        return new PostcopyReport(pagesLeft, asked, Math.max(0, placed - asked), endedAt - start);
    }

    /**
     * {@code e}, an error of an operation on the copy, or if this post-copy failed meanwhile (and killed the copy, which
     * is what the operation met) that failure, naming why: the operator learns of the lost link, not of a ptrace error.
     */
    public RuntimeException explained(RuntimeException e) {
        String why = failure;
        return why == null ? e : new FailedException(why, e);
    }

    /** Why the post-copy failed (the copy was killed), or null while it has not. */
    public String failure() {
        return failure;
    }

    /** Whether the copy ended by itself before every page was in place (its post-copy then ends with it). */
    public boolean copyEnded() {
        return copyEnded;
    }

    /** Stops serving: the threads end, the link and the userfaultfd are closed (the kernel unregisters every range). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        stopping = true;
        closeLink();
        try {
            pageReceiver.join();
            faultReader.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Linux.close(uffd);
        killTargets.forEach(Linux::close);
    }

    private void readFaults() {
        NativeMemory events = NativeMemory.allocate((long) Userfaultfd.MSG_SIZE * EVENTS_PER_READ);
        while (!stopping) {
            try {
                if (Linux.poll(uffd, Linux.POLLIN, POLL_MILLIS) == 0) {
                    if (failure == null && System.nanoTime() - lastSent > PageStream.KEEPALIVE_NANOS) {
                        send(PageStream.KEEPALIVE);
                    }
                    continue;
                }
                List<Long> ask = new ArrayList<>();
                layout.lock();
                try {
                    long n;
                    while ((n = Syscall.tryCall(Nr.READ, uffd, events.address(), events.size())) > 0) {
                        for (long at = 0; at < n; at += Userfaultfd.MSG_SIZE) {
                            handle(events, at, ask);
                        }
                    }
                    if (n != -Errno.EAGAIN && n != 0) {
                        throw new IllegalStateException("reading the copy's userfaultfd: " + Errno.describe((int) -n));
                    }
                } finally {
                    layout.unlock();
                }
                for (long page : ask) {
                    send(page);
                }
                faults += ask.size();
            } catch (IOException e) {
                fail("the link to the source was lost (" + e.getMessage() + ")");
            } catch (RuntimeException e) {
                if (failure != null) {
                    return; // the copy is dead; what waits on its faults is woken when the userfaultfd is closed
                }
                fail("serving the copy's page faults failed: " + e.getMessage());
            }
        }
    }

    /** One event of the copy's userfaultfd, the layout lock held; a missing page touched joins {@code ask}. */
    private void handle(NativeMemory events, long at, List<Long> ask) {
        int event = events.getInt(at + Userfaultfd.MSG_EVENT) & 0xff;
        long arg = at + Userfaultfd.MSG_ARG;
        switch (event) {
            case Userfaultfd.EVENT_PAGEFAULT -> {
                long page = events.getLong(arg + 8) & -PageStream.PAGE;
                // after a failure the copy is dying: whatever still touches it (the restore, if it was still being
                // built) gets zeros instead of waiting for pages that will not come
                if (failure == null && missing.contains(page)) {
                    ask.add(missing.sourceOf(page));
                } else {
                    // never stored at the source (fresh memory of a registered mapping): zeros, as the kernel would give
                    long r = Userfaultfd.zeropage(uffd, page, PageStream.PAGE);
                    if (r == -Errno.EEXIST || r == -Errno.EAGAIN) {
                        Userfaultfd.wake(uffd, page, PageStream.PAGE);
                    } else if (r < 0 && r != -Errno.ENOENT && r != -Errno.ESRCH) {
                        throw new IllegalStateException("zero page at 0x" + Long.toHexString(page) + ": " + Errno.describe((int) -r));
                    }
                }
            }
            case Userfaultfd.EVENT_REMOVE, Userfaultfd.EVENT_UNMAP -> missing.remove(events.getLong(arg), events.getLong(arg + 8));
            case Userfaultfd.EVENT_REMAP -> missing.move(events.getLong(arg), events.getLong(arg + 8), events.getLong(arg + 16));
            case Userfaultfd.EVENT_FORK -> {
                Linux.close(events.getInt(arg)); // the child's userfaultfd, given to this process by the read
                if (failure != null) {
                    return;
                }
                throw new IllegalStateException("process " + pid + " forked while pages of it were still at the source, which"
                    + " post-copy cannot serve to the child yet");
            }
            default -> throw new IllegalStateException("unknown userfaultfd event 0x" + Integer.toHexString(event));
        }
    }

    private void receivePages() {
        ByteBuffer frame = PageStream.frameBuffer();
        long frameAddress = NativeMemory.addressOf(frame);
        try {
            while (true) {
                frame.clear().limit(PageStream.HEADER_BYTES);
                PageStream.readFully(pagesIn, frame);
                long first = frame.getLong(0);
                int count = frame.getInt(8);
                if (first == PageStream.END) {
                    break;
                }
                if (count < 1 || count > PageStream.FRAME_PAGES) {
                    throw new IOException("a frame of " + count + " pages; the stream is corrupt");
                }
                frame.limit(PageStream.HEADER_BYTES + count * PageStream.PAGE);
                PageStream.readFully(pagesIn, frame);
                for (int i = 0; i < count; i++) {
                    place(first + (long) i * PageStream.PAGE, frameAddress + PageStream.HEADER_BYTES + (long) i * PageStream.PAGE);
                }
            }
            long left = pagesMissing();
            if (left > 0) {
                throw new IOException("the source ended its pages with " + left + " still missing here");
            }
            endedAt = System.nanoTime();
            send(PageStream.END);
        } catch (IOException e) {
            fail(closed ? "post-copy was stopped" : "the link to the source was lost (" + e.getMessage() + ")");
        } catch (RuntimeException e) {
            fail("placing the copy's pages failed: " + e.getMessage());
        }
    }

    /** Places the page the source knows at {@code source}, from {@code local}, if the copy still lacks it. */
    private void place(long source, long local) {
        while (true) {
            layout.lock();
            long r;
            long at;
            try {
                at = missing.missingAt(source);
                if (at < 0) {
                    return;
                }
                r = Userfaultfd.copy(uffd, at, local, PageStream.PAGE);
                if (r == PageStream.PAGE || r == -Errno.EEXIST || r == -Errno.ENOENT) {
                    missing.remove(at, at + PageStream.PAGE);
                    placed++;
                    return;
                }
                if (r == -Errno.ESRCH) {
                    copyEnded = true; // the copy ended by itself: nothing is missing any more
                    missing.clear();
                    return;
                }
            } finally {
                layout.unlock();
            }
            if (r != -Errno.EAGAIN) {
                throw new IllegalStateException("placing the page at 0x" + Long.toHexString(at) + ": " + Errno.describe((int) -r));
            }
            // the copy's layout is changing: the fault reader reads the event, then this page goes where it is now
            LockSupport.parkNanos(20_000);
        }
    }

    private void send(long address) throws IOException {
        synchronized (requestsOut) {
            PageStream.writeAddress(requestsOut, address);
            lastSent = System.nanoTime();
        }
    }

    /** The first failure kills the copy at once (its missing pages can no longer come) and stops both threads. */
    private void fail(String why) {
        synchronized (this) {
            if (failure != null || endedAt != 0) {
                return;
            }
            failure = "post-copy into process " + pid + " failed: " + why + "; " + pagesMissingQuietly()
                + " were still at the source, and the copy was killed";
        }
        for (int pidfd : killTargets) {
            Linux.pidfdSendSignal(pidfd, Linux.SIGKILL);
        }
        closeLink();
        // whoever waits on a page asked for (a restore step still building the copy, say) faults again, and gets zeros
        for (PageRange r : registered) {
            Userfaultfd.wake(uffd, r.start(), r.length());
        }
    }

    /** "N pages", or "pages" while the other thread holds the lock (it may be blocked in the kernel by now). */
    private String pagesMissingQuietly() {
        if (layout.tryLock()) {
            try {
                return missing.pages() + " pages";
            } finally {
                layout.unlock();
            }
        }
        return "pages";
    }

    private void closeLink() {
        for (Channel c : List.of(pagesIn, requestsOut)) {
            try {
                c.close();
            } catch (IOException ignored) {
                // the link is done with either way
            }
        }
    }
}
