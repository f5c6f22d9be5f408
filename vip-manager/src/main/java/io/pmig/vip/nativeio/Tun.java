package io.pmig.vip.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

/**
 * TUN devices: a descriptor whose writes arrive in the local stack as packets received on the
 * device. Constants mirror linux/if_tun.h (TUNSETIFF, IFF_TUN, IFF_NO_PI), linux/sockios.h
 * (SIOCGIFFLAGS, SIOCSIFFLAGS) and linux/if.h (IFF_UP; struct ifreq's ifr_flags at offset 16).
 */
public final class Tun {
    private static final long TUNSETIFF = 0x400454caL;
    private static final short IFF_TUN = 0x0001;
    private static final short IFF_NO_PI = 0x1000;
    private static final long SIOCGIFFLAGS = 0x8913;
    private static final long SIOCSIFFLAGS = 0x8914;
    private static final short IFF_UP = 0x1;
    private static final int IFR_FLAGS = 16;

    private Tun() {
    }

    /**
     * Creates TUN device {@code name} (raw IP packets, no packet-information header) in the calling
     * thread's network namespace and brings it up; returns its descriptor. The device lives as
     * long as the descriptor.
     */
    public static int create(String name) {
        int fd = Net.open("/dev/net/tun", Net.O_RDWR);
        try {
            NativeMemory ifr = Net.ifreq(name);
            ifr.putShort(IFR_FLAGS, (short) (IFF_TUN | IFF_NO_PI));
            Syscall.call("ioctl(TUNSETIFF, " + name + ")", Nr.IOCTL, fd, TUNSETIFF, ifr.address());
            up(name);
            return fd;
        } catch (RuntimeException e) {
            Net.close(fd);
            throw e;
        }
    }

    private static void up(String name) {
        int s = Net.socket(Net.AF_INET, Net.SOCK_DGRAM, 0);
        try {
            NativeMemory ifr = Net.ifreq(name);
            Syscall.call("ioctl(SIOCGIFFLAGS, " + name + ")", Nr.IOCTL, s, SIOCGIFFLAGS, ifr.address());
            ifr.putShort(IFR_FLAGS, (short) (ifr.getShort(IFR_FLAGS) | IFF_UP));
            Syscall.call("ioctl(SIOCSIFFLAGS, " + name + ")", Nr.IOCTL, s, SIOCSIFFLAGS, ifr.address());
        } finally {
            Net.close(s);
        }
    }

    /** Writes one packet from {@code buffer}; throws naming the device on error. */
    public static void write(int fd, String name, NativeMemory buffer, int length) {
        long n = Syscall.call("write(" + name + ")", Nr.WRITE, fd, buffer.address(), length);
        if (n != length) {
            throw new IllegalStateException("wrote " + n + " of " + length + " bytes to " + name);
        }
    }
}
