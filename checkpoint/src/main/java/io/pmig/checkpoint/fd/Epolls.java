package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.UnsettledException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.Syscall;
import io.pmig.checkpoint.restore.RestoreProgram;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * epoll with its interest list (fs/eventpoll.c fdinfo "tfd: N events: E data: D"). The list is
 * keyed by descriptor number, so the watches are added inside the restored process once every
 * descriptor has its number; a watch whose number was closed since (the file kept open by a duplicate)
 * is added through the number with the file put there for the moment. A one-shot watch that fired and waits to be
 * re-armed makes the process unsettled: it is let run until a worker re-arms it.
 */
public final class Epolls implements FileKind<Epolls.State> {
    private static final int EPOLL_CTL_ADD = 1;
    /** linux/eventpoll.h: a one-shot watch that fired keeps only these bits (fs/eventpoll.c EP_PRIVATE_BITS). */
    private static final int EPOLLONESHOT = 1 << 30;
    private static final int EP_PRIVATE_BITS = 1 << 28 | 1 << 29 | EPOLLONESHOT | 1 << 31;

    /**
     * A watched descriptor, by the number it was added under. {@code heldBy}: when that number has been closed
     * since (the watch lives on while a duplicate keeps the file open), the descriptor that now holds the file;
     * null when the number still does.
     */
    public record Watch(int fd, int events, long data, Integer heldBy) {
    }

    @ImageKind("file.epoll")
    public record State(int id, List<Watch> watches) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().equals("anon_inode:[eventpoll]");
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        List<Watch> watches = new ArrayList<>();
        Map<Integer, Integer> seen = new java.util.HashMap<>();
        for (String line : file.fdinfoText().split("\n")) {
            if (!line.startsWith("tfd:")) {
                continue;
            }
            String[] w = line.trim().split("\\s+");
            int tfd = Integer.parseInt(w[1]);
            int events = (int) Long.parseLong(w[3], 16);
            long data = Long.parseUnsignedLong(w[5], 16);
            if ((events & EPOLLONESHOT) != 0 && (events & ~EP_PRIVATE_BITS) == 0) {
                // epoll_ctl adds EPOLLERR and EPOLLHUP to every watch it is given: a copy would report them where this one
                // waits, disarmed, for the worker that handles its file to re-arm it
                throw new UnsettledException(file.describe() + ": this epoll's one-shot watch of descriptor " + tfd
                    + " fired and is not re-armed yet, which a copy could not be given");
            }
            // a watch outlives its descriptor while a duplicate keeps the file open; the number may then be closed, or
            // hold another file (even one watched under the same number)
            int toff = seen.merge(tfd, 1, Integer::sum) - 1;
            Integer heldBy = null;
            if (!context.files().containsKey(tfd) || !Linux.epollWatches(file.pid(), tfd, file.fd(), tfd, toff)) {
                heldBy = context.files().keySet().stream().filter(fd -> Linux.epollWatches(file.pid(), fd, file.fd(), tfd, toff))
                    .findFirst().orElseThrow(() -> new RefusedException(file.describe() + ": this epoll watches a file added as "
                        + "descriptor " + tfd + ", which no descriptor of the process holds any more: the file lives on "
                        + "elsewhere (in another process, or in flight in a socket queue), which a copy could not watch"));
            }
            watches.add(new Watch(tfd, events, data, heldBy));
        }
        return new State(id, watches);
    }

    @Override
    public int open(State state, RestoreContext context) {
        return context.hold((int) Syscall.call("epoll_create1", Nr.EPOLL_CREATE1, Linux.O_CLOEXEC));
    }

    @Override
    public void afterInstall(State state, Map<Integer, Integer> fdsOfFile, RestoreProgram program) {
        int epfd = fdsOfFile.get(state.id());
        for (Watch w : state.watches()) {
            // struct epoll_event is packed on x86_64: u32 events, u64 data
            byte[] event = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(w.events()).putLong(w.data()).array();
            long eventAt = program.data(event);
            if (w.heldBy() == null) {
                program.call("epoll_ctl(" + epfd + ", ADD, " + w.fd() + ")", Nr.EPOLL_CTL, epfd, EPOLL_CTL_ADD, w.fd(), eventAt);
            } else {
                addThroughNumber(program, epfd, w, eventAt);
            }
        }
    }

    /**
     * Adds a watch under a number that now holds another file, or none: whatever is there is parked, the file put
     * at the number for the epoll_ctl, then the number given back (the watch stays: closing a duplicate does not end it).
     */
    private static void addThroughNumber(RestoreProgram p, int epfd, Watch w, long eventAt) {
        int[] first = {0};
        int cloexec = p.tryCall("close-on-exec of fd " + w.fd(), Nr.FCNTL, w.fd(), Linux.F_GETFD);
        int parked = p.tryCall("park fd " + w.fd(), Nr.FCNTL, w.fd(), Linux.F_DUPFD_CLOEXEC, 0);
        p.call("put the file of fd " + w.heldBy() + " at " + w.fd(), Nr.DUP3, w.heldBy(), w.fd(), 0);
        p.call("epoll_ctl(" + epfd + ", ADD, " + w.fd() + ") through fd " + w.heldBy(), Nr.EPOLL_CTL, epfd, EPOLL_CTL_ADD, w.fd(),
            eventAt);
        p.call("close fd " + w.fd(), Nr.CLOSE, w.fd());
        // nothing was there when these fail (EBADF passed on)
        p.tryCallWithResultOf(parked, first, "give fd " + w.fd() + " back", Nr.DUP3, 0, w.fd(), 0);
        p.tryCallWithResultOf(cloexec, new int[] {2}, "give fd " + w.fd() + " its close-on-exec flag", Nr.FCNTL, w.fd(),
            Linux.F_SETFD, 0);
        p.tryCallWithResultOf(parked, first, "unpark fd " + w.fd(), Nr.CLOSE, 0);
    }
}
