package io.pmig.vip.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import io.pmig.nativeio.SyscallException;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The bpf(2) system call for cgroup programs: commands, program, map and attach types and the
 * layouts of union bpf_attr and struct bpf_prog_info as in linux/bpf.h. Descriptors returned are
 * the caller's to close ({@link Net#close}).
 */
public final class Bpf {
    /** enum bpf_cmd */
    private static final int MAP_CREATE = 0, MAP_LOOKUP_ELEM = 1, MAP_UPDATE_ELEM = 2, PROG_LOAD = 5, PROG_ATTACH = 8,
        PROG_DETACH = 9, PROG_GET_FD_BY_ID = 13, MAP_GET_FD_BY_ID = 14, OBJ_GET_INFO_BY_FD = 15, PROG_QUERY = 16;
    /** enum bpf_map_type */
    private static final int MAP_TYPE_ARRAY = 2;
    /** enum bpf_prog_type */
    public static final int PROG_TYPE_CGROUP_SOCK_ADDR = 18;
    /** enum bpf_attach_type */
    public static final int CGROUP_INET4_CONNECT = 10, CGROUP_INET6_CONNECT = 11, CGROUP_UDP4_SENDMSG = 14,
        CGROUP_UDP6_SENDMSG = 15;
    /** BPF_PROG_ATTACH flags: other programs (systemd's, say) stay attached beside pmig's. */
    private static final int F_ALLOW_MULTI = 2;
    /** BPF_PROG_QUERY flag: the programs in effect, inherited ones included. */
    private static final int F_QUERY_EFFECTIVE = 1;
    /** enum bpf_func_id: long bpf_bind(struct bpf_sock_addr *ctx, struct sockaddr *addr, int addr_len) */
    public static final int FUNC_BIND = 64;
    /** BPF_OBJ_NAME_LEN, with its terminating NUL. */
    public static final int OBJ_NAME_LEN = 16;
    private static final int ATTR_SIZE = 128;
    /** struct bpf_prog_info up to and including name[16] (offset 64). */
    private static final int PROG_INFO_SIZE = 80;
    private static final int PROG_INFO_ID = 4, PROG_INFO_NR_MAP_IDS = 52, PROG_INFO_MAP_IDS = 56, PROG_INFO_NAME = 64;
    private static final int LOG_SIZE = 64 * 1024;
    private static final int MAX_QUERIED = 64;

    /**
     * struct bpf_sock_addr, the context of a cgroup sock_addr program: user_family (0), user_ip4 (4, network
     * order), user_ip6[4] (8), user_port (24), family (28), type (32), protocol (36), msg_src_ip4 (40),
     * msg_src_ip6[4] (44).
     */
    public static final int SOCK_ADDR_USER_IP4 = 4, SOCK_ADDR_USER_IP6 = 8, SOCK_ADDR_MSG_SRC_IP4 = 40, SOCK_ADDR_MSG_SRC_IP6 = 44;

    private Bpf() {
    }

    /** A one-element array map holding {@code value}, named {@code name}; returns its descriptor. */
    public static int createArray(String name, byte[] value) {
        NativeMemory attr = attr();
        attr.putInt(0, MAP_TYPE_ARRAY);
        attr.putInt(4, 4);                 // key_size: u32 index
        attr.putInt(8, value.length);      // value_size
        attr.putInt(12, 1);                // max_entries
        attr.put(28, name(name));          // map_name
        int fd = (int) bpf("BPF_MAP_CREATE(" + name + ")", MAP_CREATE, attr);
        try {
            NativeMemory key = NativeMemory.allocate(4);
            key.putInt(0, 0);
            NativeMemory v = NativeMemory.allocate(value.length);
            v.put(0, value);
            NativeMemory update = attr();
            update.putInt(0, fd);
            update.putLong(8, key.address());
            update.putLong(16, v.address());
            bpf("BPF_MAP_UPDATE_ELEM(" + name + ")", MAP_UPDATE_ELEM, update);
            return fd;
        } catch (RuntimeException e) {
            Net.close(fd);
            throw e;
        }
    }

    /** Element 0 of the array map with id {@code mapId}, {@code size} bytes. */
    public static byte[] arrayValue(int mapId, int size) {
        NativeMemory byId = attr();
        byId.putInt(0, mapId);
        int fd = (int) bpf("BPF_MAP_GET_FD_BY_ID(" + mapId + ")", MAP_GET_FD_BY_ID, byId);
        try {
            NativeMemory key = NativeMemory.allocate(4);
            key.putInt(0, 0);
            NativeMemory v = NativeMemory.allocate(size);
            v.zero();
            NativeMemory lookup = attr();
            lookup.putInt(0, fd);
            lookup.putLong(8, key.address());
            lookup.putLong(16, v.address());
            bpf("BPF_MAP_LOOKUP_ELEM(map " + mapId + ")", MAP_LOOKUP_ELEM, lookup);
            return v.bytes(0, size);
        } finally {
            Net.close(fd);
        }
    }

    /**
     * Loads a GPL program of {@code type}, for {@code attachType}; returns its descriptor. The verifier's
     * log is in the exception when it rejects the program.
     */
    public static int loadProgram(String name, int type, int attachType, byte[] insns) {
        NativeMemory code = NativeMemory.allocate(insns.length);
        code.put(0, insns);
        byte[] gpl = "GPL\0".getBytes(StandardCharsets.US_ASCII);
        NativeMemory license = NativeMemory.allocate(gpl.length);
        license.put(0, gpl);
        NativeMemory log = NativeMemory.allocate(LOG_SIZE);
        log.zero();
        NativeMemory attr = attr();
        attr.putInt(0, type);
        attr.putInt(4, insns.length / 8);
        attr.putLong(8, code.address());
        attr.putLong(16, license.address());
        attr.putInt(24, 1);                // log_level
        attr.putInt(28, LOG_SIZE);
        attr.putLong(32, log.address());
        attr.put(48, name(name));          // prog_name
        attr.putInt(68, attachType);       // expected_attach_type
        long fd = Syscall.tryCall(Nr.BPF, PROG_LOAD, attr.address(), ATTR_SIZE);
        if (fd < 0) {
            throw new SyscallException("BPF_PROG_LOAD(" + name + "), verifier log: " + cString(log.bytes(0, LOG_SIZE)).strip(), (int) -fd);
        }
        return (int) fd;
    }

    /** Attaches program {@code progFd} to the cgroup directory open as {@code cgroupFd}, beside any others. */
    public static void attach(int cgroupFd, int progFd, int attachType, String what) {
        NativeMemory attr = attr();
        attr.putInt(0, cgroupFd);
        attr.putInt(4, progFd);
        attr.putInt(8, attachType);
        attr.putInt(12, F_ALLOW_MULTI);
        bpf("BPF_PROG_ATTACH(" + what + ")", PROG_ATTACH, attr);
    }

    /** Detaches program {@code progFd} from the cgroup. */
    public static void detach(int cgroupFd, int progFd, int attachType, String what) {
        NativeMemory attr = attr();
        attr.putInt(0, cgroupFd);
        attr.putInt(4, progFd);
        attr.putInt(8, attachType);
        bpf("BPF_PROG_DETACH(" + what + ")", PROG_DETACH, attr);
    }

    /**
     * The ids of the programs attached to the cgroup for {@code attachType}: to it alone, or ({@code effective},
     * BPF_F_QUERY_EFFECTIVE) every one that runs for its processes, its ancestors' included.
     */
    public static List<Integer> attached(int cgroupFd, int attachType, boolean effective, String what) {
        NativeMemory ids = NativeMemory.allocate(4L * MAX_QUERIED);
        NativeMemory attr = attr();
        attr.putInt(0, cgroupFd);
        attr.putInt(4, attachType);
        attr.putInt(8, effective ? F_QUERY_EFFECTIVE : 0);
        attr.putLong(16, ids.address());
        attr.putInt(24, MAX_QUERIED);
        bpf("BPF_PROG_QUERY(" + what + ")", PROG_QUERY, attr);
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < Math.min(attr.getInt(24), MAX_QUERIED); i++) {
            out.add(ids.getInt(4L * i));
        }
        return out;
    }

    /** A descriptor of the program with id {@code progId}, or -errno (-ENOENT: it went meanwhile). */
    public static int programById(int progId) {
        NativeMemory attr = attr();
        attr.putInt(0, progId);
        return (int) Syscall.tryCall(Nr.BPF, PROG_GET_FD_BY_ID, attr.address(), ATTR_SIZE);
    }

    /** A loaded program's id, name and the ids of the maps it uses (bpf_prog_info). */
    public record ProgramInfo(int id, String name, List<Integer> mapIds) {
    }

    public static ProgramInfo programInfo(int progFd) {
        NativeMemory mapIds = NativeMemory.allocate(4L * MAX_QUERIED);
        NativeMemory info = NativeMemory.allocate(PROG_INFO_SIZE);
        info.zero();
        info.putInt(PROG_INFO_NR_MAP_IDS, MAX_QUERIED);
        info.putLong(PROG_INFO_MAP_IDS, mapIds.address());
        NativeMemory attr = attr();
        attr.putInt(0, progFd);
        attr.putInt(4, PROG_INFO_SIZE);
        attr.putLong(8, info.address());
        bpf("BPF_OBJ_GET_INFO_BY_FD(" + progFd + ")", OBJ_GET_INFO_BY_FD, attr);
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < Math.min(info.getInt(PROG_INFO_NR_MAP_IDS), MAX_QUERIED); i++) {
            ids.add(mapIds.getInt(4L * i));
        }
        return new ProgramInfo(info.getInt(PROG_INFO_ID), cString(info.bytes(PROG_INFO_NAME, OBJ_NAME_LEN)), ids);
    }

    private static long bpf(String what, int cmd, NativeMemory attr) {
        return Syscall.call(what, Nr.BPF, cmd, attr.address(), ATTR_SIZE);
    }

    private static NativeMemory attr() {
        NativeMemory attr = NativeMemory.allocate(ATTR_SIZE);
        attr.zero();
        return attr;
    }

    /** The text up to the first NUL. */
    private static String cString(byte[] bytes) {
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.US_ASCII);
    }

    private static byte[] name(String name) {
        byte[] b = name.getBytes(StandardCharsets.US_ASCII);
        if (b.length >= OBJ_NAME_LEN) {
            throw new IllegalArgumentException("BPF object name '" + name + "' is longer than " + (OBJ_NAME_LEN - 1) + " characters");
        }
        return b;
    }
}
