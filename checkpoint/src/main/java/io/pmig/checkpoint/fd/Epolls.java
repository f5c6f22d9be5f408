package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.RefusedException;
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
 * descriptor has its number.
 */
public final class Epolls implements FileKind<Epolls.State> {
    private static final int EPOLL_CTL_ADD = 1;

    /** A watched descriptor, by the number it was added under. */
    public record Watch(int fd, int events, long data) {
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
            // a watch outlives its descriptor while a duplicate keeps the file open; the number may then be closed, or
            // hold another file (even one watched under the same number: epoll_ctl would say EEXIST)
            int toff = seen.merge(tfd, 1, Integer::sum) - 1;
            if (!context.files().containsKey(tfd) || !Linux.epollWatches(file.pid(), tfd, file.fd(), tfd, toff)) {
                throw new RefusedException(file.describe() + ": this epoll watches a file added as descriptor " + tfd + ", which the process "
                    + "has closed since" + (context.files().containsKey(tfd) ? " and opened another file at" : "")
                    + "; such a watch cannot be re-created");
            }
            watches.add(new Watch(tfd, events, data));
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
            program.call("epoll_ctl(" + epfd + ", ADD, " + w.fd() + ")", Nr.EPOLL_CTL, epfd, EPOLL_CTL_ADD, w.fd(), program.data(event));
        }
    }
}
