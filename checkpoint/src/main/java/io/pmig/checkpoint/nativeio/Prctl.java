package io.pmig.checkpoint.nativeio;

/**
 * prctl(2) options the restore runs inside the restored process (linux/prctl.h), and the capability
 * constants that go with them (linux/capability.h, linux/securebits.h).
 */
public final class Prctl {
    public static final int PR_GET_DUMPABLE = 3;
    public static final int PR_SET_DUMPABLE = 4;
    public static final int PR_SET_NAME = 15;
    public static final int PR_SET_THP_DISABLE = 41;
    public static final int PR_SET_CHILD_SUBREAPER = 36;
    public static final int PR_GET_CHILD_SUBREAPER = 37;
    public static final int PR_CAPBSET_DROP = 24;
    public static final int PR_SET_SECUREBITS = 28;
    public static final int PR_SET_MM = 35;
    public static final int PR_SET_MM_MAP = 14;
    /** sizeof(struct prctl_mm_map). */
    public static final int PR_SET_MM_MAP_SIZE = 104;
    public static final int PR_SET_NO_NEW_PRIVS = 38;
    public static final int PR_CAP_AMBIENT = 47;
    public static final int PR_CAP_AMBIENT_RAISE = 2;
    public static final int PR_TIMER_CREATE_RESTORE_IDS = 77;
    /** linux/securebits.h: the permitted set survives setresuid away from uid 0. */
    public static final int SECBIT_KEEP_CAPS = 1 << 4;
    /** linux/capability.h: _LINUX_CAPABILITY_VERSION_3, 64-bit sets in two 32-bit halves. */
    public static final int CAPABILITY_VERSION_3 = 0x20080522;

    private Prctl() {
    }
}
