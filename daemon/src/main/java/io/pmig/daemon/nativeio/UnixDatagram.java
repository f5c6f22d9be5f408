package io.pmig.daemon.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

import java.nio.charset.StandardCharsets;

/**
 * One datagram to a Unix socket, which the JDK cannot send (its Unix sockets are stream sockets
 * only). Constants mirror linux/socket.h, linux/net.h and asm-generic/socket.h; struct
 * sockaddr_un {sa_family_t sun_family; char sun_path[108];} (linux/un.h); syscall numbers from
 * asm/unistd_64.h (x86_64).
 */
public final class UnixDatagram {
    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int SUN_PATH_MAX = 108;
    private static final int NR_CLOSE = 3;
    private static final int NR_SOCKET = 41;
    private static final int NR_SENDTO = 44;

    private UnixDatagram() {
    }

    /**
     * Sends {@code message} as one datagram to the socket at {@code address}: a path, or with a
     * leading '@' a name in the abstract namespace (as $NOTIFY_SOCKET writes it). Throws
     * {@link io.pmig.nativeio.SyscallException} naming the call that failed.
     */
    public static void send(String address, byte[] message) {
        byte[] path = address.getBytes(StandardCharsets.UTF_8);
        boolean abstractName = path.length > 0 && path[0] == '@';
        if (abstractName) {
            path[0] = 0;
        }
        if (path.length == 0 || path.length >= SUN_PATH_MAX) {
            throw new IllegalArgumentException("'" + address + "' is not a Unix socket address (1 to " + (SUN_PATH_MAX - 1) + " bytes)");
        }
        // an abstract name's length is exactly its bytes; a path ends with NUL
        int addressLength = 2 + path.length + (abstractName ? 0 : 1);
        NativeMemory sockaddr = NativeMemory.allocate(2 + SUN_PATH_MAX);
        sockaddr.zero();
        sockaddr.putShort(0, (short) AF_UNIX);
        sockaddr.put(2, path);
        NativeMemory buffer = NativeMemory.allocate(Math.max(1, message.length));
        buffer.put(0, message);
        int fd = (int) Syscall.call("socket(AF_UNIX, SOCK_DGRAM)", NR_SOCKET, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        try {
            Syscall.call("sendto(" + address + ")", NR_SENDTO, fd, buffer.address(), message.length, MSG_NOSIGNAL,
                sockaddr.address(), addressLength);
        } finally {
            Syscall.tryCall(NR_CLOSE, fd);
        }
    }
}
