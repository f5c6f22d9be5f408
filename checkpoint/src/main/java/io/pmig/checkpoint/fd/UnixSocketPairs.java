package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.NativeMemory;

import java.util.ArrayList;
import java.util.List;

/**
 * Connected, unnamed Unix sockets whose peer is in the same process (socketpair(2)), with the
 * data queued to each end. The queue is read with MSG_PEEK at a moving SO_PEEK_OFF, which
 * leaves it in place; datagram boundaries are kept.
 */
public final class UnixSocketPairs implements FileKind<UnixSocketPairs.State> {
    private static final int MAX_MESSAGE = 1 << 20;

    /** {@code queued}: what this end would read next, one entry per datagram (one for a stream). */
    @ImageKind("file.unix-pair")
    public record State(int id, long inode, long peerInode, int type, int flags, List<byte[]> queued) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().startsWith("socket:[") && Linux.getsockoptInt(file.local(), Linux.SOL_SOCKET, Linux.SO_DOMAIN) == Linux.AF_UNIX;
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        UnixSockets.Info info = context.unixSockets().get(file.linkInode());
        if (info.name() != null || info.peerInode() == 0) {
            throw new RefusedException(file.describe() + ": Unix socket " + (info.name() != null ? "bound to " + info.name() : "not connected")
                + " is not supported yet (only socket pairs inside the process are)");
        }
        String peerLink = "socket:[" + info.peerInode() + "]";
        if (context.files().values().stream().noneMatch(f -> f.link().equals(peerLink))) {
            throw new RefusedException(file.describe() + ": its peer (Unix socket inode " + info.peerInode()
                + ") belongs to another process; checkpoint them together");
        }
        return new State(id, info.inode(), info.peerInode(), info.type(), file.statusFlags(), peek(file.local(), info.type()));
    }

    private static List<byte[]> peek(int sock, int type) {
        List<byte[]> out = new ArrayList<>();
        NativeMemory buf = NativeMemory.allocate(MAX_MESSAGE);
        Linux.setsockoptInt(sock, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, 0);
        try {
            while (true) {
                long n = Linux.recv(sock, buf.address(), MAX_MESSAGE, Linux.MSG_PEEK | Linux.MSG_DONTWAIT);
                if (n <= 0) {
                    break;
                }
                out.add(buf.bytes(0, (int) n));
            }
        } finally {
            Linux.setsockoptInt(sock, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, -1);
        }
        if (type == Linux.SOCK_STREAM && out.size() > 1) {
            int total = out.stream().mapToInt(b -> b.length).sum();
            byte[] joined = new byte[total];
            int at = 0;
            for (byte[] b : out) {
                System.arraycopy(b, 0, joined, at, b.length);
                at += b.length;
            }
            return List.of(joined);
        }
        return out;
    }

    @Override
    public int open(State state, RestoreContext context) {
        long low = Math.min(state.inode(), state.peerInode());
        int[] pair = context.pair("unix-pair:" + low, () -> Linux.socketpair(Linux.AF_UNIX, state.type() | Linux.SOCK_CLOEXEC));
        int mine = state.inode() == low ? pair[0] : pair[1];
        int peer = state.inode() == low ? pair[1] : pair[0];
        for (byte[] message : state.queued()) {
            NativeMemory m = NativeMemory.allocate(Math.max(1, message.length));
            m.put(0, message);
            Linux.send(peer, m.address(), message.length, 0);
        }
        int fd = Linux.fcntl(mine, Linux.F_DUPFD_CLOEXEC, 0);
        Linux.fcntl(fd, Linux.F_SETFL, state.flags() & Linux.O_NONBLOCK);
        return context.hold(fd);
    }
}
