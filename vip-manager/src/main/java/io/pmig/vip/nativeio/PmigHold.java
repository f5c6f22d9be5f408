package io.pmig.vip.nativeio;

import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import io.pmig.nativeio.SyscallException;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * pmig.ko's packet hold: ioctls on /dev/pmig, the structures and constants of the module's uapi
 * header kernel-module/pmig.h (struct pmig_address, pmig_hold, pmig_release, pmig_take,
 * pmig_packet, pmig_hold_stats). A hold belongs to the descriptor that made it and ends with it.
 */
public final class PmigHold {
    public static final String DEVICE = "/dev/pmig";
    private static final long PMIG_IOC_VERSION = 0x8008b701L;
    private static final long PMIG_IOC_HOLD = 0x4028b702L;
    private static final long PMIG_IOC_RELEASE = 0xc01cb703L;
    private static final long PMIG_IOC_TAKE = 0xc030b704L;
    private static final long PMIG_IOC_HOLD_STATS = 0xc030b705L;
    private static final int PMIG_FEATURE_HOLD = 1;
    public static final int PMIG_HOLD_NEW_CONNECTIONS = 1;
    public static final int PMIG_RELEASE_END = 1;
    public static final int PMIG_RELEASE_DROP = 2;
    /** struct pmig_address: u32 family, u8 address[16] */
    private static final int ADDRESS_SIZE = 20;
    private static final int PACKET_HEADER = 16;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int TAKE_BUFFER = 1 << 20;
    /** asm-generic/errno-base.h: a device node without its driver */
    private static final int ENXIO = 6;

    /** A hold's counters (struct pmig_hold_stats). */
    public record Stats(int queued, long kept, long overflowed) {
    }

    /** A packet taken out of a hold: the IP packet and when it arrived (CLOCK_REALTIME, ns). */
    public record Packet(byte[] ip, long arrivedAtEpochNanos) {
    }

    private PmigHold() {
    }

    /**
     * Opens /dev/pmig if the module is loaded and offers the hold; -1 if not (no device: the module is
     * not loaded, or the kernel has no module support). Other failures throw, naming the device.
     */
    public static int openIfLoaded() {
        int fd;
        try {
            fd = Net.open(DEVICE, Net.O_RDWR);
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOENT || e.errno() == ENXIO || e.errno() == Errno.ENODEV) {
                return -1;
            }
            throw e;
        }
        NativeMemory version = NativeMemory.allocate(8);
        try {
            Syscall.call("ioctl(" + DEVICE + ", PMIG_IOC_VERSION)", Nr.IOCTL, fd, PMIG_IOC_VERSION, version.address());
        } catch (RuntimeException e) {
            Net.close(fd);
            throw e;
        }
        if ((version.getInt(4) & PMIG_FEATURE_HOLD) == 0) {
            Net.close(fd);
            return -1;
        }
        return fd;
    }

    /** PMIG_IOC_HOLD: holds {@code vip}'s inbound packets in the calling thread's network namespace (or widens a hold of new connections). */
    public static void hold(int fd, InetAddress vip, int flags, int maxPackets, long maxBytes) {
        NativeMemory m = NativeMemory.allocate(40);
        m.zero();
        putAddress(m, vip);
        m.putInt(20, flags);
        m.putInt(24, maxPackets);
        m.putLong(32, maxBytes);
        Syscall.call("ioctl(" + DEVICE + ", PMIG_IOC_HOLD, " + vip.getHostAddress() + ")", Nr.IOCTL, fd, PMIG_IOC_HOLD, m.address());
    }

    /** PMIG_IOC_RELEASE: re-injects (or with PMIG_RELEASE_DROP drops) what is queued, in order; returns how many. */
    public static int release(int fd, InetAddress vip, int flags) {
        NativeMemory m = NativeMemory.allocate(28);
        m.zero();
        putAddress(m, vip);
        m.putInt(20, flags);
        Syscall.call("ioctl(" + DEVICE + ", PMIG_IOC_RELEASE, " + vip.getHostAddress() + ")", Nr.IOCTL, fd, PMIG_IOC_RELEASE, m.address());
        return m.getInt(24);
    }

    /** PMIG_IOC_TAKE until the queue is empty: every packet queued, oldest first; the hold goes on. */
    public static List<Packet> take(int fd, InetAddress vip) {
        NativeMemory buffer = NativeMemory.allocate(TAKE_BUFFER);
        NativeMemory m = NativeMemory.allocate(48);
        List<Packet> packets = new ArrayList<>();
        while (true) {
            m.zero();
            putAddress(m, vip);
            m.putInt(20, TAKE_BUFFER);
            m.putLong(32, buffer.address());
            Syscall.call("ioctl(" + DEVICE + ", PMIG_IOC_TAKE, " + vip.getHostAddress() + ")", Nr.IOCTL, fd, PMIG_IOC_TAKE, m.address());
            int count = m.getInt(24);
            long at = 0;
            for (int i = 0; i < count; i++) {
                int length = buffer.getInt(at);
                packets.add(new Packet(buffer.bytes(at + PACKET_HEADER, length), buffer.getLong(at + 8)));
                at += PACKET_HEADER + ((length + 7L) & ~7L);
            }
            if (count == 0) {
                return packets;
            }
        }
    }

    /** PMIG_IOC_HOLD_STATS of a hold of this descriptor. */
    public static Stats stats(int fd, InetAddress vip) {
        NativeMemory m = NativeMemory.allocate(48);
        m.zero();
        putAddress(m, vip);
        Syscall.call("ioctl(" + DEVICE + ", PMIG_IOC_HOLD_STATS, " + vip.getHostAddress() + ")", Nr.IOCTL, fd, PMIG_IOC_HOLD_STATS, m.address());
        return new Stats(m.getInt(20), m.getLong(24), m.getLong(32));
    }

    private static void putAddress(NativeMemory m, InetAddress vip) {
        m.putInt(0, vip instanceof Inet4Address ? AF_INET : AF_INET6);
        m.put(4, vip.getAddress());
    }
}
