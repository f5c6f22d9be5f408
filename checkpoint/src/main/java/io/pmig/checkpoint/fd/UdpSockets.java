package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.UnsettledException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Sockets;
import io.pmig.nativeio.SyscallException;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * UDP sockets, IPv4 and IPv6, bound or connected, with the datagrams queued to them.
 *
 * <p>Saved: family, local address, peer address if connected, SO_REUSEADDR, SO_REUSEPORT,
 * SO_BROADCAST, the buffer sizes, IPV6_V6ONLY, SO_PEEK_OFF, O_NONBLOCK, the shutdown(2) state (from
 * sock_diag: {@link InetDiag}), the other options a process sets ({@link InetOptions}: TOS, TTL,
 * PKTINFO, RECVERR, timestamps, MTU discovery, SO_MARK, SO_PRIORITY, FREEBIND, the socket filter...), and every queued
 * datagram with its payload and source address. The queue is read with MSG_PEEK at a moving SO_PEEK_OFF,
 * which leaves it in place for a process that goes on running. Not carried (a fresh socket's
 * defaults come back): multicast TTL/loop/interface, UDP_SEGMENT.
 * Refused at checkpoint: multicast memberships and IPv6 sticky options (what holds per-socket option
 * memory beyond the socket filter), SO_BINDTODEVICE, UDP encapsulation, UDP_GRO, and a pending socket error
 * (reading it would take it from the process). A datagram being assembled (UDP_CORK or MSG_MORE) makes the process
 * unsettled: it is let run until it sends it. UDP_CORK itself is kept.
 *
 * <p>Restore re-queues each datagram by sending it to the new socket from its original source:
 * from a UDP socket bound to that address and port when it is free (with IP_TRANSPARENT when the
 * address is not local to this host: a remote client's address, say); when a live socket holds
 * the port, from a raw socket whose hand-built IP and UDP headers carry the source (CAP_NET_RAW).
 * Either way the datagram goes over loopback, which delivers even a non-local source. Each one
 * must arrive before the next is sent (the socket's receive memory grows), so the order is kept
 * and a datagram that does not land (a firewall rule, another socket sharing the port) fails the
 * restore by name instead of vanishing. A socket that shares its port (SO_REUSEADDR/SO_REUSEPORT)
 * is connected to each source while its datagrams arrive, so the kernel picks it over siblings.
 *
 * <p>Limits: datagrams that arrive between this dump and the process's end are lost, as on any
 * network: hold inbound traffic first, as for TCP. An empty datagram that was already peeked at
 * (by the process, or by an earlier dump of a process left running) is invisible to a peek at an
 * offset (net/core/datagram.c skips it); at the head of the queue it is found by a plain peek, but
 * further back it cannot be seen and is not saved.
 */
public final class UdpSockets implements FileKind<UdpSockets.State> {
    private static final String PROTOCOL = "udp";
    private static final int MAX_DATAGRAM = 65536;
    /** Receive memory a re-queued datagram may take beyond twice its payload (sk_buff and headers). */
    private static final int DATAGRAM_OVERHEAD = 4096;
    private static final int QUEUE_SLACK = 64 << 10;
    private static final long ARRIVAL_TIMEOUT_NANOS = 1_000_000_000L;
    private static final int SEND_QUEUE_WAITS = 50;
    private static final byte[] LOOPBACK4 = {127, 0, 0, 1};
    private static final byte[] LOOPBACK6 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    private static final byte[] MAPPED_PREFIX = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff};

    /** Options a server sets, as getsockopt reports them (buffer sizes doubled by the kernel); peekOffset -1 is off. */
    public record Options(boolean reuseAddress, boolean reusePort, boolean broadcast, int sendBuffer, int receiveBuffer,
                          boolean v6Only, int peekOffset, java.util.Map<String, byte[]> others) {
    }

    /** One queued datagram: its payload and the sockaddr it came from. */
    public record Datagram(byte[] source, byte[] data) {
    }

    /**
     * {@code peer} is null for an unconnected socket; {@code queued} in the order the process would read it;
     * {@code shutdown}: RCV_SHUTDOWN and SEND_SHUTDOWN as shutdown(2) left them; {@code foreignAddress}: the host
     * lacked the local address (bound with IP_FREEBIND or IP_TRANSPARENT, perhaps turned off since).
     */
    @ImageKind("file.udp")
    public record State(int id, int family, int flags, byte[] local, byte[] peer, Options options, List<Datagram> queued,
                        int shutdown, boolean foreignAddress) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().startsWith("socket:[") && Sockets.isInet(file.local(), Linux.SOCK_DGRAM, Sockets.IPPROTO_UDP);
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        int fd = file.local();
        int family = Sockets.getInt(fd, Linux.SOL_SOCKET, Linux.SO_DOMAIN);
        byte[] local = Sockets.localAddress(fd);
        byte[] peer = Sockets.peerAddressIfConnected(fd);
        String what = file.describe() + ": UDP socket " + name(local, peer);
        refuseUnsupported(fd, what);
        Options options = new Options(
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEADDR) != 0,
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEPORT) != 0,
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_BROADCAST) != 0,
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_SNDBUF),
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_RCVBUF),
            family == Sockets.AF_INET6 && Sockets.getInt(fd, Sockets.IPPROTO_IPV6, Sockets.IPV6_V6ONLY) != 0,
            Sockets.getInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF),
            InetOptions.changed(file, family, Linux.SOCK_DGRAM));
        if (InetOptions.holdsOtherOptionMemory(fd, family, Linux.SOCK_DGRAM, Sockets.IPPROTO_UDP, options.others())) {
            throw new RefusedException(what + " holds per-socket option state (multicast group memberships, or IPv6 options "
                + "set with setsockopt), which cannot be saved yet");
        }
        int shutdown = InetDiag.shutdown(family, Sockets.IPPROTO_UDP, file.linkInode());
        if (shutdown < 0) {
            throw new RefusedException(what + " is neither bound nor connected yet: whether it was shut down for writing "
                + "cannot be read (sock_diag lists bound sockets only), so it cannot be restored exactly yet");
        }
        return new State(id, family, file.statusFlags(), local, peer, options, peekQueue(fd, options.peekOffset(), what), shutdown,
            !Sockets.addressIsLocal(local));
    }

    private static void refuseUnsupported(int fd, String what) {
        // poll reports a pending error without taking it, as getsockopt(SO_ERROR) or a recv would
        if ((Sockets.poll(fd, Sockets.POLLIN) & Sockets.POLLERR) != 0) {
            throw new RefusedException(what + " has a pending error (an ICMP error such as port unreachable, or an entry in "
                + "its IP_RECVERR error queue) that cannot be read without taking it from the process; retry once the process has read it");
        }
        byte[] device = Sockets.getsockopt(fd, Linux.SOL_SOCKET, Sockets.SO_BINDTODEVICE, 16);
        if (device.length > 0 && device[0] != 0) {
            throw new RefusedException(what + " is bound to device " + new String(device).replace("\0", "")
                + " (SO_BINDTODEVICE), which is not supported yet");
        }
        int encap = Sockets.getInt(fd, Sockets.SOL_UDP, Sockets.UDP_ENCAP);
        if (encap != 0) {
            throw new RefusedException(what + " is a UDP encapsulation socket (UDP_ENCAP type " + encap
                + ", e.g. ESP-in-UDP or L2TP), which is not supported");
        }
        if (Sockets.getInt(fd, Sockets.SOL_UDP, Sockets.UDP_GRO) != 0) {
            throw new RefusedException(what + " receives coalesced datagrams (UDP_GRO), which is not supported yet");
        }
        // what the stopped process sent leaves the send queue as the device takes it; what stays is a datagram being
        // assembled (corked with UDP_CORK, or sent with MSG_MORE), which no call reads back: the process is let run
        // until it sends it (a cork with nothing held back is an option like any other, InetOptions)
        for (int i = 0; Sockets.ioctlCount(fd, Sockets.SIOCOUTQ) > 0; i++) {
            if (i == SEND_QUEUE_WAITS) {
                boolean corked = Sockets.getInt(fd, Sockets.SOL_UDP, Sockets.UDP_CORK) != 0;
                throw new UnsettledException(what + " holds " + Sockets.ioctlCount(fd, Sockets.SIOCOUTQ) + " bytes of a datagram "
                    + "being assembled (" + (corked ? "corked with UDP_CORK" : "sent with MSG_MORE") + "), which cannot be read back");
            }
            sleepMillis(1);
        }
    }

    /** Every queued datagram with its source, copied without taking any; the socket's peek offset is put back. */
    private static List<Datagram> peekQueue(int fd, int peekOffset, String what) {
        List<Datagram> out = new ArrayList<>();
        NativeMemory buf = NativeMemory.allocate(MAX_DATAGRAM);
        int flags = Linux.MSG_PEEK | Linux.MSG_DONTWAIT;
        try {
            if (peekOffset >= 0) {
                Sockets.setInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, -1);
            }
            // a peek at an offset skips an empty datagram that was peeked at before; a plain peek
            // sees the head whatever it is, and marks an empty one peeked, so the walk below skips it
            Sockets.Message head = Sockets.recvmsg(fd, buf, flags);
            if (head != null && head.data().length == 0) {
                out.add(new Datagram(head.source(), head.data()));
            }
            Sockets.setInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, 0);
            while (true) {
                Sockets.Message m = Sockets.recvmsg(fd, buf, flags);
                if (m == null) {
                    break;
                }
                if ((m.flags() & Sockets.MSG_TRUNC) != 0) {
                    throw new RefusedException(what + ": a queued datagram from " + Sockets.describe(m.source())
                        + " is larger than " + MAX_DATAGRAM + " bytes, which is not supported");
                }
                out.add(new Datagram(m.source(), m.data()));
            }
        } finally {
            Sockets.setInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, peekOffset);
        }
        return out;
    }

    @Override
    public void checkRestorable(State state) {
        InetOptions.checkDevice(state.options().others(), "UDP socket " + Sockets.describe(state.local()));
        if (!state.foreignAddress() && !InetOptions.bindsForeignAddresses(state.options().others())
                && !Sockets.addressIsLocal(state.local())) {
            throw new RefusedException("UDP socket " + Sockets.describe(state.local()) + " needs its address on this host, "
                + "which does not have it; move the service's VIP here before restoring");
        }
    }

    @Override
    public void beforeOpening(State s, RestoreContext context) {
        if (bound(s)) {
            InetOptions.countBinding(PROTOCOL, s.local(), context);
        }
    }

    private static boolean bound(State s) {
        return port(s.local()) != 0 || !isAny(address(s.local()));
    }

    @Override
    public int open(State s, RestoreContext context) {
        int fd = context.hold(Sockets.socket(s.family(), Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, Sockets.IPPROTO_UDP));
        String what = "UDP socket " + name(s.local(), s.peer());
        try {
            Options o = s.options();
            if (s.family() == Sockets.AF_INET6) {
                Sockets.setInt(fd, Sockets.IPPROTO_IPV6, Sockets.IPV6_V6ONLY, o.v6Only() ? 1 : 0);
            }
            Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEADDR, o.reuseAddress() ? 1 : 0);
            Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEPORT, o.reusePort() ? 1 : 0);
            Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_BROADCAST, o.broadcast() ? 1 : 0);
            InetOptions.apply(fd, o.others());
            if (bound(s)) {
                InetOptions.bind(fd, PROTOCOL, s.local(), o.reusePort(), s.foreignAddress(), o.others(), context);
            }
            byte[] connectedTo = null;
            if (!s.queued().isEmpty()) {
                long room = QUEUE_SLACK;
                for (Datagram d : s.queued()) {
                    room += 2L * d.data().length + DATAGRAM_OVERHEAD;
                }
                Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_RCVBUFFORCE, (int) Math.min(Integer.MAX_VALUE / 2,
                    Math.max(o.receiveBuffer() / 2, room)));
                connectedTo = requeue(fd, s);
            }
            if (s.peer() != null && !Arrays.equals(connectedTo, s.peer())) {
                Sockets.connect(fd, s.peer());
            } else if (s.peer() == null && connectedTo != null) {
                Sockets.disconnect(fd);
            }
            byte[] local = Sockets.localAddress(fd);
            if (!Arrays.equals(local, s.local())) {
                throw new FailedException("its local address came back as " + Sockets.describe(local));
            }
            applyBuffers(fd, o, s.family(), !s.queued().isEmpty());
            InetOptions.applyBufferLocks(fd, o.others());
            if (o.peekOffset() >= 0) {
                Sockets.setInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, o.peekOffset());
            }
            shutdown(fd, s.shutdown());
            Linux.fcntl(fd, Linux.F_SETFL, s.flags() & Linux.O_NONBLOCK);
            return fd;
        } catch (RuntimeException e) {
            throw new FailedException("restoring " + what + ": " + e.getMessage()
                + (e.getMessage() != null && e.getMessage().contains("EADDRNOTAVAIL") ? " (the address is not on this host: move its VIP here first)" : ""), e);
        }
    }

    /**
     * shutdown(2) as the original had it (a UDP or raw socket's); an unconnected socket answers ENOTCONN but is shut all
     * the same (net/ipv4/af_inet.c).
     */
    static void shutdown(int fd, int how) {
        int both = Sockets.RCV_SHUTDOWN | Sockets.SEND_SHUTDOWN;
        if ((how & both) == 0) {
            return;
        }
        int shut = (how & both) == both ? Sockets.SHUT_RDWR : (how & Sockets.SEND_SHUTDOWN) != 0 ? Sockets.SHUT_WR : Sockets.SHUT_RD;
        try {
            Sockets.shutdown(fd, shut);
        } catch (SyscallException e) {
            if (e.errno() != Sockets.ENOTCONN) {
                throw e;
            }
        }
    }

    /**
     * Sends the saved datagrams to the new socket from their sources, in order, each confirmed in
     * its receive queue before the next. Returns the address the socket was left connected to, or null.
     */
    private static byte[] requeue(int fd, State s) {
        boolean sharesPort = s.options().reuseAddress() || s.options().reusePort();
        byte[] connectedTo = null;
        for (Datagram d : s.queued()) {
            if (sharesPort && !Arrays.equals(connectedTo, d.source())) {
                // connected to the source, this socket outranks any other on its port for that source;
                // a source without a route here (a remote client's) is delivered unconnected instead
                if (Sockets.tryConnect(fd, d.source()) == 0) {
                    connectedTo = d.source();
                } else if (connectedTo != null) {
                    Sockets.disconnect(fd);
                    connectedTo = null;
                }
            }
            byte[] destination = destination(Sockets.localAddress(fd), d.source());
            int[] before = Sockets.meminfo(fd);
            try {
                sendFrom(d.source(), destination, d.data());
            } catch (RuntimeException e) {
                throw new FailedException("a queued datagram from " + Sockets.describe(d.source())
                    + " cannot be put back with that source: " + e.getMessage(), e);
            }
            awaitArrival(fd, before, d);
        }
        return connectedTo;
    }

    /** Where to send a datagram for the socket bound to {@code local}: that address, or loopback for a wildcard. */
    private static byte[] destination(byte[] local, byte[] source) {
        byte[] to = local.clone();
        if (isAny(address(local))) {
            byte[] loopback = family(local) == Sockets.AF_INET ? LOOPBACK4
                : isMapped(address(source)) ? concat(MAPPED_PREFIX, LOOPBACK4) : LOOPBACK6;
            System.arraycopy(loopback, 0, to, family(local) == Sockets.AF_INET ? 4 : 8, loopback.length);
        }
        return to;
    }

    /**
     * Sends one datagram that carries {@code source} as its source address and port. A UDP socket
     * bound there does it when the port is free; IP_TRANSPARENT lets it bind an address this host
     * does not have (CAP_NET_ADMIN), and loopback delivers from it. When a live socket holds the
     * port, a raw socket sends headers built here (CAP_NET_RAW).
     */
    private static void sendFrom(byte[] source, byte[] destination, byte[] data) {
        if (port(source) != 0) {
            int family = family(source);
            int t = Sockets.socket(family, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, Sockets.IPPROTO_UDP);
            try {
                Sockets.setInt(t, Linux.SOL_SOCKET, Sockets.SO_REUSEADDR, 1);
                int err = Sockets.tryBind(t, source);
                if (err == Sockets.EADDRNOTAVAIL) {
                    // not an address of this host: a remote peer's
                    if (family == Sockets.AF_INET6) {
                        Sockets.setInt(t, Sockets.IPPROTO_IPV6, Sockets.IPV6_TRANSPARENT, 1);
                    } else {
                        Sockets.setInt(t, Sockets.IPPROTO_IP, Sockets.IP_TRANSPARENT, 1);
                    }
                    err = Sockets.tryBind(t, source);
                }
                if (err == 0) {
                    Sockets.sendto(t, data, destination);
                    return;
                }
                if (err != Sockets.EADDRINUSE) {
                    throw new SyscallException("bind(" + Sockets.describe(source) + ")", err);
                }
            } finally {
                Linux.close(t);
            }
        }
        sendRaw(source, destination, data);
    }

    /** The datagram with its IP and UDP headers built here, on a raw socket (IPPROTO_RAW: the header is ours). */
    private static void sendRaw(byte[] source, byte[] destination, byte[] data) {
        byte[] from = address(source);
        byte[] to = address(destination);
        boolean v4 = from.length == 4 || isMapped(from);
        if (v4) {
            from = Arrays.copyOfRange(from, from.length - 4, from.length);
            to = Arrays.copyOfRange(to, to.length - 4, to.length);
        }
        int udpLength = 8 + data.length;
        ByteBuffer udp = ByteBuffer.allocate(udpLength);
        udp.putShort((short) port(source)).putShort((short) port(destination)).putShort((short) udpLength).putShort((short) 0).put(data);
        // checksum over the pseudo-header (addresses, protocol, length) and the datagram; 0 is sent as 0xffff
        long sum = sum(from) + sum(to) + Sockets.IPPROTO_UDP + udpLength + sum(udp.array());
        while (sum >> 16 != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        int checksum = (int) ~sum & 0xffff;
        udp.putShort(6, (short) (checksum == 0 ? 0xffff : checksum));
        ByteBuffer packet;
        byte[] target;
        if (v4) {
            packet = ByteBuffer.allocate(20 + udpLength);
            // version+IHL, TOS, total length, id (the kernel picks one), flags+fragment, TTL, protocol,
            // header checksum (the kernel computes it), source, destination
            packet.put((byte) 0x45).put((byte) 0).putShort((short) (20 + udpLength)).putShort((short) 0).putShort((short) 0)
                .put((byte) 64).put((byte) Sockets.IPPROTO_UDP).putShort((short) 0).put(from).put(to);
            target = ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN).putShort((short) Sockets.AF_INET)
                .order(java.nio.ByteOrder.BIG_ENDIAN).putShort((short) 0).put(to).array();
        } else {
            packet = ByteBuffer.allocate(40 + udpLength);
            // version+traffic class+flow label, payload length, next header, hop limit, source, destination
            packet.putInt(0x60000000).putShort((short) udpLength).put((byte) Sockets.IPPROTO_UDP).put((byte) 64).put(from).put(to);
            target = destination.clone();
            target[2] = 0; // the port field of a raw IPv6 socket's address names a protocol: none
            target[3] = 0;
        }
        packet.put(udp.array());
        int family = v4 ? Sockets.AF_INET : Sockets.AF_INET6;
        int raw = Sockets.socket(family, Sockets.SOCK_RAW | Linux.SOCK_CLOEXEC, Sockets.IPPROTO_RAW);
        try {
            Sockets.sendto(raw, packet.array(), target);
        } finally {
            Linux.close(raw);
        }
    }

    /** Sum of big-endian 16-bit words, an odd last byte padded with zero. */
    private static long sum(byte[] b) {
        long s = 0;
        for (int i = 0; i < b.length; i += 2) {
            s += (b[i] & 0xff) << 8 | (i + 1 < b.length ? b[i + 1] & 0xff : 0);
        }
        return s;
    }

    /** Waits until the socket's receive memory grew: the datagram is in its queue (loopback delivers at once, softirqs permitting). */
    private static void awaitArrival(int fd, int[] before, Datagram d) {
        long deadline = System.nanoTime() + ARRIVAL_TIMEOUT_NANOS;
        while (true) {
            int[] now = Sockets.meminfo(fd);
            if (now[Sockets.SK_MEMINFO_RMEM_ALLOC] > before[Sockets.SK_MEMINFO_RMEM_ALLOC]) {
                return;
            }
            if (now[Sockets.SK_MEMINFO_DROPS] != before[Sockets.SK_MEMINFO_DROPS] || System.nanoTime() > deadline) {
                throw new FailedException("a queued datagram (" + d.data().length + " bytes) from " + Sockets.describe(d.source())
                    + " was sent back but did not arrive in the new socket"
                    + (now[Sockets.SK_MEMINFO_DROPS] != before[Sockets.SK_MEMINFO_DROPS] ? " (the socket dropped it)"
                        : " (a firewall rule dropping it, or another socket on the same port taking it?)"));
            }
            sleepMillis(1);
        }
    }

    private static void applyBuffers(int fd, Options o, int family, boolean bufferRaised) {
        // the kernel reports sizes doubled; set only sizes the process chose (they differ from a fresh
        // socket's) and the one raised to re-queue; FORCE: the process may have been allowed more than rmem_max
        int fresh = Sockets.socket(family, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, Sockets.IPPROTO_UDP);
        try {
            if (o.sendBuffer() != Sockets.getInt(fresh, Linux.SOL_SOCKET, Sockets.SO_SNDBUF)) {
                Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_SNDBUFFORCE, o.sendBuffer() / 2);
            }
            if (bufferRaised || o.receiveBuffer() != Sockets.getInt(fresh, Linux.SOL_SOCKET, Sockets.SO_RCVBUF)) {
                Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_RCVBUFFORCE, o.receiveBuffer() / 2);
            }
        } finally {
            Linux.close(fresh);
        }
    }

    private static String name(byte[] local, byte[] peer) {
        return Sockets.describe(local) + (peer != null ? " -> " + Sockets.describe(peer) : "");
    }

    private static int family(byte[] sockaddr) {
        return (sockaddr[0] & 0xff) | (sockaddr[1] & 0xff) << 8;
    }

    private static int port(byte[] sockaddr) {
        return (sockaddr[2] & 0xff) << 8 | (sockaddr[3] & 0xff);
    }

    /** The address bytes of a sockaddr_in (4) or sockaddr_in6 (16). */
    private static byte[] address(byte[] sockaddr) {
        return family(sockaddr) == Sockets.AF_INET ? Arrays.copyOfRange(sockaddr, 4, 8) : Arrays.copyOfRange(sockaddr, 8, 24);
    }

    private static boolean isAny(byte[] address) {
        for (byte b : address) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean isMapped(byte[] address) {
        return address.length == 16 && Arrays.equals(Arrays.copyOf(address, 12), MAPPED_PREFIX);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static void sleepMillis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FailedException("interrupted", e);
        }
    }
}
