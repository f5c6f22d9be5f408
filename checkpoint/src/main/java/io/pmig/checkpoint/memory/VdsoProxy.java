package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.ptrace.RemoteMemory;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestoreProgram;
import io.pmig.nativeio.Errno;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Restoring on a kernel whose vdso is not the one the process had. The process holds addresses in its old vdso
 * (libc looked its functions up once, at start), so the old vdso's bytes go back to their old place as ordinary
 * memory, and each of its functions is redirected to the same function of this kernel's vdso, which is moved with its
 * vvar pages, as one block, to a free place of its own (the vdso's code reads the vvar pages at a fixed distance, and
 * their number and order differ between kernels). The old vvar pages are reserved with no access: old code still
 * running there (a signal handler returning into it) faults instead of reading whatever might be mapped there later.
 * A function this kernel's vdso lacks becomes its system call ({@link #SYSTEM_CALLS}); one with no such stand-in is an
 * ABI difference, refused by name before anything is created ({@link #precheck}). The same vdso (same build-id, same
 * vvar layout) is simply moved to the old place ({@link MemoryRestorer#moveKernelMappings}).
 */
public final class VdsoProxy {
    public static final String VDSO = "[vdso]";
    /** Test-only: put a proxy in place even for this kernel's own vdso. */
    public static final String DEBUG_FORCE = "pmig.debug.restore.vdsoProxy";
    /** The vdso functions (x86_64, without their "__vdso_" prefix) that are their system call made faster. */
    static final Map<String, Integer> SYSTEM_CALLS = Map.of("clock_gettime", Nr.CLOCK_GETTIME, "gettimeofday", Nr.GETTIMEOFDAY,
        "time", Nr.TIME, "clock_getres", Nr.CLOCK_GETRES, "getcpu", Nr.GETCPU,
        // the state argument only lets the vdso skip the call; without it the call does the same
        "getrandom", Nr.GETRANDOM);
    /** Enters an SGX enclave: only a process with one could call it, and an enclave's pages never leave their CPU. */
    private static final String SGX_ENTER_ENCLAVE = "sgx_enter_enclave";
    private static final String PREFIX = "__vdso_";
    /** Where a pre-check supposes this kernel's vdso goes: out of a jump's reach, so the longer jump is checked for room. */
    private static final long FIRST_PLACE = 1L << 40;

    private VdsoProxy() {
    }

    /**
     * Whether the image's kernel mappings ({@code image}) can be this kernel's ({@code here}, whose vdso is
     * {@code hereVdso}) moved: the same vdso build and the same mappings around it, at the same distances.
     */
    static boolean sameAsHere(List<MappingImage> image, List<MapsEntry> here, VdsoImage hereVdso) {
        MappingImage vdso = image.stream().filter(m -> m.name().equals(VDSO)).findFirst().orElseThrow();
        MapsEntry hereEntry = here.stream().filter(e -> e.path().equals(VDSO)).findFirst().orElse(null);
        if (Boolean.getBoolean(DEBUG_FORCE) || hereEntry == null || !vdso.vdso().sameBuildAs(hereVdso) || image.size() != here.size()) {
            return false;
        }
        return image.stream().allMatch(m -> here.stream().anyMatch(e -> e.path().equals(m.name()) && e.length() == m.length()
            && e.start() - hereEntry.start() == m.start() - vdso.start()));
    }

    /**
     * Refuses, before any process is created, an image whose vdso this kernel cannot stand in for (a function its vdso
     * lacks and no system call does). Asks this engine's own process, whose vdso is the kernel's.
     */
    public static void precheck(List<MappingImage> mappings) {
        MappingImage old = imageVdso(mappings);
        if (old == null) {
            return;
        }
        Here self = here();
        List<MapsEntry> here = self.mappings();
        VdsoImage hereImage = self.vdso();
        List<MappingImage> kernel = mappings.stream().filter(m -> m.backing() == MappingImage.Backing.KERNEL).toList();
        if (hereImage == null || !sameAsHere(kernel, here, hereImage)) {
            redirect(old.vdso(), old.start(), functionsOf(hereImage), FIRST_PLACE);
        }
    }

    /** This process's own kernel mappings and its vdso, which stay where they are for its life. */
    private record Here(List<MapsEntry> mappings, VdsoImage vdso) {
    }

    /** Read once: the /proc/self/maps of a JVM has thousands of lines, milliseconds of every restore's pre-flight. */
    private static volatile Here here;

    private static Here here() {
        Here known = here;
        if (known == null) {
            ProcFs self = new ProcFs((int) ProcessHandle.current().pid());
            List<MapsEntry> mappings = kernelMappings(self);
            MapsEntry vdso = mappings.stream().filter(e -> e.path().equals(VDSO)).findFirst().orElse(null);
            known = new Here(mappings, vdso == null ? null : VdsoImage.read(self.pid(), vdso));
            here = known;
        }
        return known;
    }

    /** The image's vdso mapping if the image keeps its code (images made before it was kept do not), else null. */
    static MappingImage imageVdso(List<MappingImage> mappings) {
        return mappings.stream().filter(m -> m.backing() == MappingImage.Backing.KERNEL && m.name().equals(VDSO) && m.vdso() != null)
            .findFirst().orElse(null);
    }

    /** The kernel's own mappings of a process but the fixed [vsyscall] page, which no restore moves. */
    static List<MapsEntry> kernelMappings(ProcFs proc) {
        return proc.maps().stream().filter(MapsEntry::kernelSpecial).filter(e -> !e.path().equals("[vsyscall]")).toList();
    }

    /**
     * In the restored process: moves this kernel's vdso and vvar ({@code here}) to a free place, puts the image's
     * vdso ({@code old}) back where it was with its functions redirected there, and reserves the image's other kernel
     * mappings ({@code wanted}) with no access.
     */
    static void build(Puppet puppet, List<MappingImage> mappings, List<MappingImage> wanted, List<MapsEntry> here, MappingImage old) {
        MapsEntry hereVdso = here.stream().filter(e -> e.path().equals(VDSO)).findFirst().orElse(null);
        Map<String, VdsoElf.Function> hereFunctions = functionsOf(hereVdso == null ? null : VdsoImage.read(puppet.pid(), hereVdso));
        long blockStart = here.stream().mapToLong(MapsEntry::start).min().orElse(0);
        long blockEnd = here.stream().mapToLong(MapsEntry::end).max().orElse(0);
        List<PageRange> taken = new ArrayList<>();
        mappings.forEach(m -> taken.add(new PageRange(m.start(), m.end())));
        here.forEach(e -> taken.add(new PageRange(e.start(), e.end())));
        taken.add(new PageRange(puppet.hole(), puppet.hole() + Puppet.HOLE_SIZE));
        long base = here.isEmpty() ? 0 : MemoryRestorer.firstFreeRange(taken, blockEnd - blockStart, "this kernel's vdso");
        byte[] patched = redirect(old.vdso(), old.start(), hereFunctions, hereVdso == null ? 0 : base + hereVdso.start() - blockStart);
        RestoreProgram p = puppet.newProgram();
        for (MapsEntry e : here) {
            p.call("mremap this kernel's " + e.path() + " to 0x" + Long.toHexString(base + e.start() - blockStart), Nr.MREMAP,
                e.start(), e.length(), e.length(), Linux.MREMAP_MAYMOVE | Linux.MREMAP_FIXED, base + e.start() - blockStart);
        }
        for (MappingImage m : wanted) {
            if (m == old) {
                p.call("map the image's vdso at 0x" + Long.toHexString(m.start()), Nr.MMAP, m.start(), m.length(), m.prot(),
                    Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED, -1, 0);
            } else {
                p.call("reserve the image's " + m.name() + " at 0x" + Long.toHexString(m.start()), Nr.MMAP, m.start(), m.length(),
                    0, Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED | Linux.MAP_NORESERVE, -1, 0);
            }
        }
        puppet.run(p);
        RemoteMemory.writeForced(puppet.pid(), old.start(), patched);
    }

    /** The functions of a vdso; none for no vdso. */
    private static Map<String, VdsoElf.Function> functionsOf(VdsoImage vdso) {
        return vdso == null ? Map.of() : VdsoElf.parse(vdso.elf()).functions();
    }

    /**
     * The image's vdso ({@code old}, mapped at {@code oldBase}) with each function's first bytes replaced by a jump to
     * the same function of this kernel's vdso ({@code here}, its functions, mapped at {@code hereBase}), or by its system
     * call. Refuses a function that has neither.
     */
    static byte[] redirect(VdsoImage old, long oldBase, Map<String, VdsoElf.Function> here, long hereBase) {
        VdsoElf oldElf = VdsoElf.parse(old.elf());
        TreeMap<Long, List<String>> entries = new TreeMap<>();          // aliases share an entry: time and __vdso_time
        oldElf.functions().forEach((name, f) -> entries.computeIfAbsent(f.offset(), o -> new ArrayList<>()).add(name));
        entries.values().forEach(names -> names.sort(null));
        byte[] out = old.elf().clone();
        for (Map.Entry<Long, List<String>> entry : entries.entrySet()) {
            long offset = entry.getKey();
            Long next = entries.higherKey(offset);
            long room = Math.min(oldElf.functions().get(entry.getValue().get(0)).size(), (next == null ? out.length : next) - offset);
            byte[] code = standIn(entry.getValue(), oldBase + offset, here, hereBase, old);
            if (code.length > room) {
                throw new RefusedException("the image's vdso function " + entry.getValue().get(0) + " has " + room
                    + " bytes, too few to redirect it to this kernel's vdso (" + code.length + " needed); restore it on a kernel"
                    + " with the same vdso (" + old.describe() + ")");
            }
            System.arraycopy(code, 0, out, (int) offset, code.length);
        }
        return out;
    }

    /** The code that replaces the start of the function called {@code names}, at address {@code at}. */
    private static byte[] standIn(List<String> names, long at, Map<String, VdsoElf.Function> here, long hereBase, VdsoImage old) {
        String function = names.stream().map(VdsoProxy::unprefixed).findFirst().orElseThrow();
        for (String name : List.of(PREFIX + function, function)) {
            VdsoElf.Function f = here.get(name);
            if (f != null) {
                return jump(at, hereBase + f.offset());
            }
        }
        Integer call = SYSTEM_CALLS.get(function);
        if (call != null) {
            return systemCall(call);
        }
        if (function.equals(SGX_ENTER_ENCLAVE)) {
            return returning(-Errno.EINVAL);
        }
        throw new RefusedException("the image's vdso (" + old.describe() + ") has " + String.join(" and ", names)
            + ", which this kernel's vdso lacks and no system call does in its place: a kernel ABI difference; restore it on a"
            + " kernel whose vdso has it");
    }

    private static String unprefixed(String name) {
        return name.startsWith(PREFIX) ? name.substring(PREFIX.length()) : name;
    }

    /** jmp rel32 if {@code to} is within reach of {@code at}, else movabs $to, %r11; jmp *%r11 (r11: a scratch register). */
    static byte[] jump(long at, long to) {
        long rel = to - (at + 5);
        if (rel == (int) rel) {
            return ByteBuffer.allocate(5).order(ByteOrder.LITTLE_ENDIAN).put((byte) 0xe9).putInt((int) rel).array();
        }
        return ByteBuffer.allocate(13).order(ByteOrder.LITTLE_ENDIAN).put((byte) 0x49).put((byte) 0xbb).putLong(to)
            .put((byte) 0x41).put((byte) 0xff).put((byte) 0xe3).array();
    }

    /** mov $nr, %eax; syscall; ret: the arguments are already where the system call takes them. */
    static byte[] systemCall(int nr) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).put((byte) 0xb8).putInt(nr).put((byte) 0x0f).put((byte) 0x05)
            .put((byte) 0xc3).array();
    }

    /** mov $value, %eax; ret. */
    static byte[] returning(int value) {
        return ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN).put((byte) 0xb8).putInt(value).put((byte) 0xc3).array();
    }
}
