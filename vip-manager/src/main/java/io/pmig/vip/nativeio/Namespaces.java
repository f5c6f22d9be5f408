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

    private Namespaces() {
    }

    /** A descriptor of the calling thread's current network namespace, to come back to later. */
    public static int currentNetwork() {
        return Net.open("/proc/thread-self/ns/net", Net.O_RDONLY);
    }

    /** Moves the calling thread into the network namespace at {@code path} (e.g. /run/netns/NAME). */
    public static void enterNetwork(String path) {
        int fd = Net.open(path, Net.O_RDONLY);
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
}
