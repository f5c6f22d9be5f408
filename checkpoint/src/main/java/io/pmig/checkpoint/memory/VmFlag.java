package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.restore.RestoreProgram;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The flags of a mapping (smaps "VmFlags", fs/proc/task_mmu.c) that a process sets on its memory
 * itself and a restore must give back: madvise advice (MADV_DONTFORK, MADV_WIPEONFORK, MADV_NOHUGEPAGE...),
 * mlock, MAP_NORESERVE and MAP_DROPPABLE. Flags that follow from the mapping's kind and protection (rd, wr, ex, sh, mr,
 * mw, me, ms, gd, ac...) come back with the mapping; userfaultfd registrations (um, uw, ui) belong to a
 * userfaultfd descriptor, refused with the descriptors (a pre-copy's own tracker registers ranges too); a
 * sealed mapping (sl, mseal) is refused: a seal cannot be lifted, and the pre-copy rebuilds layouts.
 */
public enum VmFlag {
    RANDOM("rr", Linux.MADV_RANDOM),
    SEQUENTIAL("sr", Linux.MADV_SEQUENTIAL),
    DONTFORK("dc", Linux.MADV_DONTFORK),
    WIPEONFORK("wf", Linux.MADV_WIPEONFORK),
    DONTDUMP("dd", Linux.MADV_DONTDUMP),
    MERGEABLE("mg", Linux.MADV_MERGEABLE),
    HUGEPAGE("hg", Linux.MADV_HUGEPAGE),
    NOHUGEPAGE("nh", Linux.MADV_NOHUGEPAGE),
    /** mlock: the pages are made present and stay in memory */
    LOCKED("lo", -1),
    /** mlock2(MLOCK_ONFAULT): locked as they become present (smaps shows "lo" too) */
    LOCKONFAULT("lf", -1),
    /** MAP_NORESERVE: given at mmap, not later */
    NORESERVE("nr", -1),
    /** MAP_DROPPABLE: a mapping type, given at mmap (it brings nr, wf and dd with it) */
    DROPPABLE("dp", -1);

    /** smaps names of flags refused at checkpoint, with what they are. */
    private static final List<String[]> REFUSED = List.of(new String[] {"sl", "sealed (mseal)"},
        new String[] {"ss", "a shadow stack"});

    private final String smapsName;
    private final int advice;

    VmFlag(String smapsName, int advice) {
        this.smapsName = smapsName;
        this.advice = advice;
    }

    /** The flags this engine restores among an smaps "VmFlags:" value, by their smaps names. */
    public static List<String> restored(String vmFlags) {
        List<String> names = Arrays.asList(vmFlags.trim().split("\\s+"));
        return Arrays.stream(values()).map(f -> f.smapsName).filter(names::contains).toList();
    }

    /** What a flag among {@code vmFlags} makes the mapping impossible to restore, if any. */
    public static Optional<String> refused(String vmFlags) {
        List<String> names = Arrays.asList(vmFlags.trim().split("\\s+"));
        return REFUSED.stream().filter(r -> names.contains(r[0])).map(r -> r[1]).findFirst();
    }

    /** Calls giving {@code m} its flags back (not MAP_NORESERVE or MAP_DROPPABLE: those are given when it is mapped). */
    static void restore(MappingImage m, RestoreProgram p) {
        String where = " 0x" + Long.toHexString(m.start()) + "-0x" + Long.toHexString(m.end());
        boolean onFault = m.vmFlags().contains(LOCKONFAULT.smapsName);
        for (VmFlag f : values()) {
            if (!m.vmFlags().contains(f.smapsName)) {
                continue;
            }
            if (f.advice >= 0) {
                p.call("madvise(" + f + ")" + where, Nr.MADVISE, m.start(), m.length(), f.advice);
            } else if (f == LOCKED) {
                p.call("mlock2" + where, Nr.MLOCK2, m.start(), m.length(), onFault ? Linux.MLOCK_ONFAULT : 0);
            }
        }
    }

    /** The mapping type of mmap(2) for {@code m}, an anonymous mapping not shared: private, or droppable. */
    static int privateType(MappingImage m) {
        return m.vmFlags().contains(DROPPABLE.smapsName) ? Linux.MAP_DROPPABLE : Linux.MAP_PRIVATE;
    }

    /** The flags of mmap(2) besides the type that give {@code m} its flags of mapping time. */
    static int mmapFlags(MappingImage m) {
        return m.vmFlags().contains(NORESERVE.smapsName) ? Linux.MAP_NORESERVE : 0;
    }

    /** Whether two mappings got the same flags when mapped. */
    static boolean sameMmapFlags(MappingImage a, MappingImage b) {
        return privateType(a) == privateType(b) && mmapFlags(a) == mmapFlags(b);
    }
}
