package io.pmig.vip.neighbour;

import io.pmig.vip.VipException;
import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.vip.nativeio.Net;
import io.pmig.nativeio.SyscallException;

import java.util.Arrays;

/**
 * An AF_PACKET SOCK_RAW socket bound to one interface for ETH_P_ARP (linux/if_packet.h): sends
 * whole Ethernet frames of any type (ARP, and IPv6 neighbour advertisements) and receives the ARP
 * frames of that interface only (the socket is
 * created with protocol 0, so it sees nothing until bind names the interface). Lives in the
 * network namespace of the thread that opened it. Not thread-safe.
 */
public final class NeighbourSocket implements AutoCloseable {
    private static final int FRAME_MAX = 2048;
    private final int fd;
    private final String iface;
    private final byte[] mac;
    private final NativeMemory sendBuffer = NativeMemory.allocate(FRAME_MAX);
    private final NativeMemory receiveBuffer = NativeMemory.allocate(FRAME_MAX);
    private final byte[] received = new byte[FRAME_MAX];
    private boolean closed;

    private NeighbourSocket(int fd, String iface, byte[] mac) {
        this.fd = fd;
        this.iface = iface;
        this.mac = mac;
    }

    /** Opens and binds the socket; throws "interface eth9 does not exist" if there is none. */
    public static NeighbourSocket open(String iface) {
        int fd = Net.socket(Net.AF_PACKET, Net.SOCK_RAW, 0);
        try {
            int index = Net.interfaceIndex(fd, iface);
            if (index == -Errno.ENODEV) {
                throw new VipException("interface " + iface + " does not exist");
            }
            if (index < 0) {
                throw new SyscallException("ioctl(SIOCGIFINDEX, " + iface + ")", -index);
            }
            byte[] hw = Net.hardwareAddress(fd, iface);
            if ((hw[0] & 0xff) != Net.ARPHRD_ETHER) {
                throw new VipException("interface " + iface + " is not Ethernet (ARPHRD type " + (hw[0] & 0xff) + ")");
            }
            Net.bindPacket(fd, index, Net.ETH_P_ARP);
            return new NeighbourSocket(fd, iface, Arrays.copyOfRange(hw, 1, 1 + Net.ETH_ALEN));
        } catch (RuntimeException e) {
            Net.close(fd);
            throw e;
        }
    }

    public String iface() {
        return iface;
    }

    /** The interface's Ethernet address. */
    public byte[] mac() {
        return mac.clone();
    }

    /** Sends one whole frame now. */
    public void send(byte[] frame) {
        sendBuffer.put(0, frame);
        int n = Net.send(fd, sendBuffer, frame.length);
        if (n != frame.length) {
            throw new IllegalStateException("sent " + n + " of " + frame.length + " bytes on " + iface);
        }
    }

    /** The next ARP frame seen on the interface within {@code timeoutMillis} (ours included), or null. */
    public ArpFrame receive(int timeoutMillis) {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (true) {
            int n = Net.recv(fd, receiveBuffer, Net.MSG_DONTWAIT);
            if (n > 0) {
                receiveBuffer.get(0, received, 0, n);
                ArpFrame f = ArpFrame.decode(received, n);
                if (f != null) {
                    return f;
                }
                continue;
            }
            if (n < 0 && n != -Errno.EAGAIN && n != -Errno.EINTR) {
                throw new SyscallException("recv(packet, " + iface + ")", -n);
            }
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                return null;
            }
            Net.pollIn(fd, (int) Math.min(left + 1, Integer.MAX_VALUE));
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Net.close(fd);
        }
    }
}
