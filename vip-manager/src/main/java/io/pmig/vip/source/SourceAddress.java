package io.pmig.vip.source;

import io.pmig.nativeio.Errno;
import io.pmig.nativeio.SyscallException;
import io.pmig.vip.VipException;
import io.pmig.vip.nativeio.Bpf;
import io.pmig.vip.nativeio.BpfInsn;
import io.pmig.vip.nativeio.Net;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.IntFunction;
import java.util.stream.Stream;

/**
 * Pins a cgroup's sockets to a VIP: cgroup sock_addr programs on its cgroup v2 directory. For an IPv4 VIP, on
 * connect() ({@code pmig_v4_conn4}, BPF_CGROUP_INET4_CONNECT; {@code pmig_v4_conn6}, BPF_CGROUP_INET6_CONNECT for
 * an IPv6 socket connecting to a v4-mapped address, as the JDK's dual-stack sockets do) the socket is
 * bound to the VIP with port 0 (the port is chosen at connect time) by the bpf_bind helper, unless the
 * destination is loopback (127/8, or 0.0.0.0) or the socket is bound already (bpf_bind then fails, and
 * the connect goes on as it would have). On an unconnected UDP send ({@code pmig_v4_send4},
 * BPF_CGROUP_UDP4_SENDMSG, which v4-mapped sends of IPv6 sockets pass through too) to a non-loopback
 * destination from a socket bound to no address, the source becomes the VIP. An IPv6 VIP has the same
 * two for IPv6 destinations ({@code pmig_v6_conn6}, {@code pmig_v6_send6}). No NAT: the socket itself
 * holds the VIP, so a moved connection is still the service's. The VIP lives in a one-element array map
 * that the programs read (found again through BPF_PROG_QUERY and the programs' map ids). The programs
 * apply to the cgroup's descendants too, and stay attached as long as the cgroup exists, whether pmig
 * runs or not.
 */
public final class SourceAddress {
    /** A program of the pin: its name, its attach type, its code for the map holding the VIP. */
    private record Hook(String name, int attachType, IntFunction<byte[]> program) {
    }

    /** The programs of a pin to an IPv4 VIP; the first one's map is where the pin is read back. */
    private static final List<Hook> IPV4 = List.of(
        new Hook("pmig_v4_conn4", Bpf.CGROUP_INET4_CONNECT, SourceAddress::connect4Program),
        new Hook("pmig_v4_conn6", Bpf.CGROUP_INET6_CONNECT, SourceAddress::connect6MappedProgram),
        new Hook("pmig_v4_send4", Bpf.CGROUP_UDP4_SENDMSG, SourceAddress::sendmsg4Program));
    /** The programs of a pin to an IPv6 VIP. */
    private static final List<Hook> IPV6 = List.of(
        new Hook("pmig_v6_conn6", Bpf.CGROUP_INET6_CONNECT, SourceAddress::connect6Program),
        new Hook("pmig_v6_send6", Bpf.CGROUP_UDP6_SENDMSG, SourceAddress::sendmsg6Program));
    private static final String MAP = "pmig_src";
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int SOCKADDR_IN_SIZE = 16;
    private static final int SOCKADDR_IN6_SIZE = 28;
    /** The third 32-bit word of a v4-mapped address, ::ffff:0:0/96, as a little-endian load of its bytes 00 00 ff ff reads it. */
    private static final int V4_MAPPED_WORD = 0xffff0000;
    private static final int LOOPBACK_NET = 127;
    private static final Path SYS_FS_CGROUP = Path.of("/sys/fs/cgroup");

    private SourceAddress() {
    }

    /**
     * Pins the sockets of the processes in cgroup v2 directory {@code cgroupDir} (and below) to {@code vip}:
     * their new outbound connections and unconnected UDP leave from it. A pin to another VIP is replaced
     * (the new one is attached before the old goes, so no connect falls between).
     */
    public static void pin(Path cgroupDir, InetAddress vip) {
        Optional<InetAddress> old = pinOf(cgroupDir);
        if (old.isPresent() && old.get().equals(vip)) {
            return;
        }
        int cgroup = openCgroup(cgroupDir);
        List<Integer> fds = new ArrayList<>();
        List<Integer> attached = new ArrayList<>();
        List<Runnable> undo = new ArrayList<>();
        try {
            int map = Bpf.createArray(MAP, vip.getAddress());
            fds.add(map);
            for (Hook hook : vip instanceof Inet4Address ? IPV4 : IPV6) {
                int prog = Bpf.loadProgram(hook.name(), Bpf.PROG_TYPE_CGROUP_SOCK_ADDR, hook.attachType(), hook.program().apply(map));
                fds.add(prog);
                Bpf.attach(cgroup, prog, hook.attachType(), hook.name() + " to " + cgroupDir);
                undo.add(() -> Bpf.detach(cgroup, prog, hook.attachType(), hook.name() + " from " + cgroupDir));
                attached.add(Bpf.programInfo(prog).id());
            }
            if (old.isPresent()) {
                detachPin(cgroup, cgroupDir, attached);
            }
        } catch (SyscallException e) {
            undo.forEach(Runnable::run);    // no half pin; the old one, if any, stays
            throw new VipException("cannot pin the sockets of cgroup " + cgroupDir + " to " + vip.getHostAddress() + ": "
                + e.getMessage() + " (needs root with CAP_BPF and CAP_NET_ADMIN, a kernel with CONFIG_CGROUP_BPF, and a cgroup v2"
                + " directory)");
        } finally {
            fds.forEach(Net::close);
            Net.close(cgroup);
        }
    }

    /** Removes pmig's pin from cgroup v2 directory {@code cgroupDir}; false if it had none. */
    public static boolean unpin(Path cgroupDir) {
        int cgroup = openCgroup(cgroupDir);
        try {
            return detachPin(cgroup, cgroupDir, List.of());
        } catch (SyscallException e) {
            throw new VipException("cannot remove the source-address pin of cgroup " + cgroupDir + ": " + e.getMessage());
        } finally {
            Net.close(cgroup);
        }
    }

    /** The VIP that cgroup v2 directory {@code cgroupDir} itself is pinned to by pmig, if any (not one inherited from a parent). */
    public static Optional<InetAddress> pinOf(Path cgroupDir) {
        return pinOf(cgroupDir, false);
    }

    /**
     * The VIP process {@code pid}'s sockets are pinned to, by its cgroup or one above it; none on a host without a
     * cgroup v2 hierarchy.
     */
    public static Optional<InetAddress> pinOfProcess(int pid) {
        return unifiedRoot().isEmpty() ? Optional.empty() : pinOf(cgroupOf(pid), true);
    }

    private static Optional<InetAddress> pinOf(Path cgroupDir, boolean effective) {
        int cgroup = openCgroup(cgroupDir);
        try {
            for (List<Hook> family : List.of(IPV4, IPV6)) {
                Hook marker = family.get(0);
                for (int id : Bpf.attached(cgroup, marker.attachType(), effective, "programs of " + cgroupDir)) {
                    int prog = Bpf.programById(id);
                    if (prog < 0) {
                        continue;   // detached and freed meanwhile
                    }
                    try {
                        Bpf.ProgramInfo info = Bpf.programInfo(prog);
                        if (info.name().equals(marker.name()) && info.mapIds().size() == 1) {
                            return Optional.of(InetAddress.getByAddress(Bpf.arrayValue(info.mapIds().get(0), family == IPV4 ? 4 : 16)));
                        }
                    } finally {
                        Net.close(prog);
                    }
                }
            }
            return Optional.empty();
        } catch (SyscallException e) {
            if (e.errno() == Errno.ENOSYS || e.errno() == Errno.EINVAL) {
                return Optional.empty();    // a kernel without the bpf syscall or CONFIG_CGROUP_BPF: nothing can be pinned
            }
            throw new VipException("cannot read the BPF programs of cgroup " + cgroupDir + ": " + e.getMessage()
                + " (needs root, and a cgroup v2 directory)");
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);     // four or sixteen bytes are always an address
        } finally {
            Net.close(cgroup);
        }
    }

    /** The cgroup v2 directory of process {@code pid} (its "0::" line in /proc/PID/cgroup under this host's v2 mount). */
    public static Path cgroupOf(int pid) {
        Path root = unifiedRoot().orElseThrow(() -> new VipException("this host has no cgroup v2 hierarchy (neither "
            + SYS_FS_CGROUP + " nor " + SYS_FS_CGROUP.resolve("unified") + " is one): mount cgroup2 to pin source addresses"));
        Path file = Path.of("/proc", Integer.toString(pid), "cgroup");
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.US_ASCII)) {
                if (line.startsWith("0::/")) {
                    return root.resolve(line.substring(4));
                }
            }
        } catch (IOException e) {
            throw new VipException("process " + pid + " does not exist (cannot read " + file + ")");
        }
        throw new VipException("process " + pid + " is in no cgroup v2 (" + file + " has no 0:: line)");
    }

    /** The v2 hierarchy's mount point: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one. */
    public static Optional<Path> unifiedRoot() {
        return List.of(SYS_FS_CGROUP, SYS_FS_CGROUP.resolve("unified")).stream()
            .filter(root -> Files.isRegularFile(root.resolve("cgroup.controllers"))).findFirst();
    }

    /**
     * connect4: destination 0.0.0.0 or 127/8: allow as is; else bpf_bind(ctx, {AF_INET, port 0, VIP}, 16), whose failure
     * (a bound socket) changes nothing; always allow (return 1).
     */
    static byte[] connect4Program(int mapFd) {
        BpfInsn p = new BpfInsn();
        p.mov(BpfInsn.R6, BpfInsn.R1)
            .load(BpfInsn.W, BpfInsn.R2, BpfInsn.R6, Bpf.SOCK_ADDR_USER_IP4);
        skipLoopback(p);
        vipInR0(p, mapFd)
            .storeImm(BpfInsn.DW, BpfInsn.R10, -16, 0)
            .storeImm(BpfInsn.DW, BpfInsn.R10, -8, 0)
            .storeImm(BpfInsn.H, BpfInsn.R10, -16, AF_INET)         // sin_family; sin_port stays 0
            .store(BpfInsn.W, BpfInsn.R10, -12, BpfInsn.R0);        // sin_addr
        return bindAndAllow(p, -16, SOCKADDR_IN_SIZE);
    }

    /**
     * connect6: only a v4-mapped destination (::ffff:a.b.c.d) that is not 0.0.0.0 or 127/8 is bound, to ::ffff:VIP
     * (bpf_bind(ctx, {AF_INET6, port 0, ::ffff:VIP}, 28)); IPv6 destinations are left alone.
     */
    static byte[] connect6MappedProgram(int mapFd) {
        BpfInsn p = new BpfInsn();
        p.mov(BpfInsn.R6, BpfInsn.R1)
            .load(BpfInsn.W, BpfInsn.R2, BpfInsn.R6, Bpf.SOCK_ADDR_USER_IP6)
            .jumpIfNotEqual(BpfInsn.R2, 0, "allow")
            .load(BpfInsn.W, BpfInsn.R2, BpfInsn.R6, Bpf.SOCK_ADDR_USER_IP6 + 4)
            .jumpIfNotEqual(BpfInsn.R2, 0, "allow")
            .load(BpfInsn.W, BpfInsn.R2, BpfInsn.R6, Bpf.SOCK_ADDR_USER_IP6 + 8)
            .jump32IfNotEqual(BpfInsn.R2, V4_MAPPED_WORD, "allow")
            .load(BpfInsn.W, BpfInsn.R2, BpfInsn.R6, Bpf.SOCK_ADDR_USER_IP6 + 12);
        skipLoopback(p);
        vipInR0(p, mapFd)
            .storeImm(BpfInsn.DW, BpfInsn.R10, -32, 0)
            .storeImm(BpfInsn.DW, BpfInsn.R10, -24, 0)
            .storeImm(BpfInsn.DW, BpfInsn.R10, -16, 0)
            .storeImm(BpfInsn.DW, BpfInsn.R10, -8, 0)
            .storeImm(BpfInsn.H, BpfInsn.R10, -32, AF_INET6)        // sin6_family; port, flowinfo stay 0
            .storeImm(BpfInsn.W, BpfInsn.R10, -16, V4_MAPPED_WORD)  // sin6_addr (at 8): 0, 0, ::ffff, VIP
            .store(BpfInsn.W, BpfInsn.R10, -12, BpfInsn.R0);
        return bindAndAllow(p, -32, SOCKADDR_IN6_SIZE);
    }

    /**
     * connect6 for an IPv6 VIP: destination :: or ::1: allow as is; else bpf_bind(ctx, {AF_INET6, port 0, VIP}, 28) (it fails for
     * a v4-mapped destination, which then goes on as it would have).
     */
    static byte[] connect6Program(int mapFd) {
        BpfInsn p = new BpfInsn();
        p.mov(BpfInsn.R6, BpfInsn.R1);
        skipLoopback6(p, Bpf.SOCK_ADDR_USER_IP6);
        p.loadMapValue(BpfInsn.R7, mapFd, 0)
            .storeImm(BpfInsn.DW, BpfInsn.R10, -32, 0)
            .storeImm(BpfInsn.DW, BpfInsn.R10, -24, 0)
            .storeImm(BpfInsn.DW, BpfInsn.R10, -16, 0)
            .storeImm(BpfInsn.DW, BpfInsn.R10, -8, 0)
            .storeImm(BpfInsn.H, BpfInsn.R10, -32, AF_INET6);
        for (int word = 0; word < 4; word++) {                      // sin6_addr at 8
            p.load(BpfInsn.W, BpfInsn.R0, BpfInsn.R7, 4 * word)
                .store(BpfInsn.W, BpfInsn.R10, -24 + 4 * word, BpfInsn.R0);
        }
        return bindAndAllow(p, -32, SOCKADDR_IN6_SIZE);
    }

    /** sendmsg6 for an IPv6 VIP: destination :: or ::1, or a source chosen already: allow as is; else source = VIP. */
    static byte[] sendmsg6Program(int mapFd) {
        BpfInsn p = new BpfInsn();
        p.mov(BpfInsn.R6, BpfInsn.R1);
        skipLoopback6(p, Bpf.SOCK_ADDR_USER_IP6);
        for (int word = 0; word < 4; word++) {
            p.load(BpfInsn.W, BpfInsn.R3, BpfInsn.R6, Bpf.SOCK_ADDR_MSG_SRC_IP6 + 4 * word)
                .jumpIfNotEqual(BpfInsn.R3, 0, "allow");
        }
        p.loadMapValue(BpfInsn.R7, mapFd, 0);
        for (int word = 0; word < 4; word++) {
            p.load(BpfInsn.W, BpfInsn.R0, BpfInsn.R7, 4 * word)
                .store(BpfInsn.W, BpfInsn.R6, Bpf.SOCK_ADDR_MSG_SRC_IP6 + 4 * word, BpfInsn.R0);
        }
        return allow(p);
    }

    /** goto allow when the IPv6 address at ctx (r6) + {@code offset} is :: or ::1 (its last word 00 00 00 01 loads as 1 << 24). */
    private static void skipLoopback6(BpfInsn p, int offset) {
        for (int word = 0; word < 3; word++) {
            p.load(BpfInsn.W, BpfInsn.R2, BpfInsn.R6, offset + 4 * word)
                .jumpIfNotEqual(BpfInsn.R2, 0, "not-loopback");
        }
        p.load(BpfInsn.W, BpfInsn.R2, BpfInsn.R6, offset + 12)
            .jumpIfEqual(BpfInsn.R2, 0, "allow")
            .jumpIfEqual(BpfInsn.R2, 1 << 24, "allow")
            .label("not-loopback");
    }

    /** sendmsg4: destination 0.0.0.0 or 127/8, or a source chosen already (a bound socket, IP_PKTINFO): allow as is; else source = VIP. */
    static byte[] sendmsg4Program(int mapFd) {
        BpfInsn p = new BpfInsn();
        p.mov(BpfInsn.R6, BpfInsn.R1)
            .load(BpfInsn.W, BpfInsn.R2, BpfInsn.R6, Bpf.SOCK_ADDR_USER_IP4);
        skipLoopback(p);
        p.load(BpfInsn.W, BpfInsn.R3, BpfInsn.R6, Bpf.SOCK_ADDR_MSG_SRC_IP4)
            .jumpIfNotEqual(BpfInsn.R3, 0, "allow");
        vipInR0(p, mapFd)
            .store(BpfInsn.W, BpfInsn.R6, Bpf.SOCK_ADDR_MSG_SRC_IP4, BpfInsn.R0);
        return allow(p);
    }

    /** goto allow when the IPv4 address in r2 (network order: its first octet is the low byte here) is 0.0.0.0 or in 127/8. */
    private static void skipLoopback(BpfInsn p) {
        p.jumpIfEqual(BpfInsn.R2, 0, "allow")
            .andImm(BpfInsn.R2, 0xff)
            .jumpIfEqual(BpfInsn.R2, LOOPBACK_NET, "allow");
    }

    /** r0 = the VIP, from the map's value. */
    private static BpfInsn vipInR0(BpfInsn p, int mapFd) {
        return p.loadMapValue(BpfInsn.R7, mapFd, 0)
            .load(BpfInsn.W, BpfInsn.R0, BpfInsn.R7, 0);
    }

    /** bpf_bind(ctx (r6), the sockaddr at r10 + offset, size); its result is ignored. */
    private static byte[] bindAndAllow(BpfInsn p, int offset, int size) {
        p.mov(BpfInsn.R1, BpfInsn.R6)
            .mov(BpfInsn.R2, BpfInsn.R10)
            .addImm(BpfInsn.R2, offset)
            .movImm(BpfInsn.R3, size)
            .call(Bpf.FUNC_BIND);
        return allow(p);
    }

    private static byte[] allow(BpfInsn p) {
        return p.label("allow").movImm(BpfInsn.R0, 1).exit().assemble();
    }

    /** Detaches every program of pmig's pin from the cgroup but those whose ids are in {@code keep}; true if one was. */
    private static boolean detachPin(int cgroup, Path cgroupDir, List<Integer> keep) {
        boolean any = false;
        for (Hook hook : Stream.concat(IPV4.stream(), IPV6.stream()).toList()) {
            for (int id : Bpf.attached(cgroup, hook.attachType(), false, "programs of " + cgroupDir)) {
                int prog = Bpf.programById(id);
                if (prog < 0) {
                    continue;   // detached and freed meanwhile
                }
                try {
                    if (Bpf.programInfo(prog).name().equals(hook.name()) && !keep.contains(id)) {
                        Bpf.detach(cgroup, prog, hook.attachType(), hook.name() + " from " + cgroupDir);
                        any = true;
                    }
                } finally {
                    Net.close(prog);
                }
            }
        }
        return any;
    }

    private static int openCgroup(Path cgroupDir) {
        if (!Files.isRegularFile(cgroupDir.resolve("cgroup.controllers"))) {
            throw new VipException(cgroupDir + " is not a cgroup v2 directory (no cgroup.controllers there); give one under "
                + unifiedRoot().map(Path::toString).orElse("a cgroup2 mount"));
        }
        return Net.open(cgroupDir.toString(), Net.O_RDONLY);
    }
}
