package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import io.pmig.nativeio.SyscallException;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * pmig.ko's TCP state of all of a process's sockets in one call: PMIG_IOC_TCP_STATE on /dev/pmig,
 * struct pmig_tcp_state and struct pmig_tcp_socket of the module's uapi header kernel-module/pmig.h.
 * Without the module (no /dev/pmig) the engine reads each socket with the getsockopts.
 */
public final class PmigTcpState {
    private static final String DEVICE = "/dev/pmig";
    private static final long PMIG_IOC_TCP_STATE = 0xc018b706L;
    private static final int SOCKET_SIZE = 72;
    private static final int FIRST_CAPACITY = 256;
    /** asm-generic/errno-base.h: a device node without its driver */
    private static final int ENXIO = 6;

    /**
     * One socket as TCP_INFO (state, options, window scales), TCP_QUEUE_SEQ, SIOCINQ/SIOCOUTQ/SIOCOUTQNSD,
     * TCP_MAXSEG in repair mode, TCP_TIMESTAMP and TCP_REPAIR_WINDOW ({snd_wl1, snd_wnd, max_window,
     * rcv_wnd, rcv_wup}) report it.
     */
    public record Socket(int fd, int state, int options, int sendWindowScale, int receiveWindowScale, long inode, int family,
                         int writeSeq, int receiveNext, int mssClamp, int timestamp, int inq, int outq, int notSent,
                         int[] window) {
    }

    private PmigTcpState() {
    }

    /** The TCP sockets of process {@code pid} by descriptor, or null without pmig.ko. */
    public static Map<Integer, Socket> read(int pid) {
        long opened = Syscall.tryCall(Nr.OPEN, Linux.cString(DEVICE).address(), Linux.O_RDWR | Linux.O_CLOEXEC, 0);
        if (opened == -Errno.ENOENT || opened == -Errno.ENODEV || opened == -ENXIO) {
            return null;
        }
        if (opened < 0) {
            throw new SyscallException("open(" + DEVICE + ")", (int) -opened);
        }
        int device = (int) opened;
        try {
            int capacity = FIRST_CAPACITY;
            while (true) {
                NativeMemory sockets = NativeMemory.allocate((long) capacity * SOCKET_SIZE);
                NativeMemory request = NativeMemory.allocate(24);
                request.zero();
                request.putInt(0, pid);
                request.putInt(4, capacity);
                request.putLong(8, sockets.address());
                Syscall.call("ioctl(" + DEVICE + ", PMIG_IOC_TCP_STATE, " + pid + ")", Nr.IOCTL, device, PMIG_IOC_TCP_STATE,
                    request.address());
                int count = request.getInt(16);
                if (count <= capacity) {
                    Map<Integer, Socket> byFd = new LinkedHashMap<>();
                    for (int i = 0; i < count; i++) {
                        Socket s = socket(sockets, (long) i * SOCKET_SIZE);
                        byFd.put(s.fd(), s);
                    }
                    return byFd;
                }
                capacity = count + 16; // sockets opened meanwhile: once more with room for them
            }
        } finally {
            Linux.close(device);
        }
    }

    private static Socket socket(NativeMemory m, long at) {
        int[] window = new int[5];
        for (int i = 0; i < 5; i++) {
            window[i] = m.getInt(at + 48 + 4L * i);
        }
        byte[] small = m.bytes(at + 4, 4);
        return new Socket(m.getInt(at), small[0] & 0xff, small[1] & 0xff, small[2] & 0xff, small[3] & 0xff, m.getLong(at + 8),
            m.getInt(at + 16), m.getInt(at + 20), m.getInt(at + 24), m.getInt(at + 28), m.getInt(at + 32), m.getInt(at + 36),
            m.getInt(at + 40), m.getInt(at + 44), window);
    }
}
