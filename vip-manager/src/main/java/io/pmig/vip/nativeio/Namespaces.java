package io.pmig.vip.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

/**
 * Network namespaces of the calling thread (setns(2) with CLONE_NEWNET, linux/sched.h). Sockets
 * are created in the namespace of the thread that creates them, so a thread that has entered a
 * namespace manages that namespace's addresses and sends on its interfaces.
 */
public final class Namespaces {
    public static final int CLONE_NEWNET = 0x40000000;
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 02000000;

    private Namespaces() {
    }

    /** A descriptor of the calling thread's current network namespace, to come back to later. */
    public static int currentNetwork() {
        return open("/proc/thread-self/ns/net");
    }

    /** Moves the calling thread into the network namespace at {@code path} (e.g. /run/netns/NAME). */
    public static void enterNetwork(String path) {
        int fd = open(path);
        try {
            enterNetwork(fd, path);
        } finally {
            Net.close(fd);
        }
    }

    /** Moves the calling thread into the network namespace behind descriptor {@code fd}. */
    public static void enterNetwork(int fd, String what) {
        Syscall.call("setns(" + what + ", CLONE_NEWNET)", Nr.SETNS, fd, CLONE_NEWNET);
    }

    private static int open(String path) {
        byte[] b = path.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        NativeMemory p = NativeMemory.allocate(b.length + 1L);
        p.zero();
        p.put(0, b);
        return (int) Syscall.call("open(" + path + ")", Nr.OPEN, p.address(), O_RDONLY | O_CLOEXEC, 0);
    }
}
