package io.pmig.checkpoint.nativeio;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The state components of XSAVE by their bit in XCR0 (enum xfeature, arch/x86/include/asm/fpu/types.h), and the
 * standard-format XSAVE area ptrace reads and writes (NT_X86_XSTATE; the Intel SDM's "XSAVE area": the legacy FXSAVE
 * region, the software-reserved bytes where the kernel puts XCR0, the header whose first word says which components
 * hold state, then each component at an offset the CPU reports).
 */
public final class XsaveFeatures {
    private static final String[] NAMES = {
        "x87", "SSE", "AVX", "MPX bounds registers", "MPX CSR", "AVX-512 opmask", "AVX-512 ZMM_Hi256", "AVX-512 Hi16_ZMM",
        "PT", "PKRU (protection keys)", "PASID", "CET user", "CET supervisor", "HDC", "UINTR", "LBR", "HWP",
        "AMX tile config", "AMX tile data", "APX"};
    /**
     * Components whose instructions a program may have chosen at its start from CPUID (libc's string functions, a JIT):
     * AVX, AVX-512, AMX, APX. On a CPU without one the process would fault on the first of them.
     */
    private static final long INSTRUCTION_SETS = 1L << 2 | 1L << 5 | 1L << 6 | 1L << 7 | 1L << 17 | 1L << 18 | 1L << 19;
    /** x87, SSE and AVX: where every CPU's standard format has them (the legacy region, and 576 for AVX). */
    private static final long FIXED_PLACE = 0x7;
    /**
     * Components whose state a change of layout drops: MPX's, which no kernel pmig runs on supports (MPX left Linux in
     * 5.6, the first with pidfd_getfd), so its instructions do nothing and its registers mean nothing (a CPU may still
     * report them in use); PKRU's, as pmig carries no protection keys of mappings either.
     */
    private static final long DROPPED = 1L << 3 | 1L << 4 | 1L << 9;
    /** XCR0 in the software-reserved bytes (xstate_fx_sw_bytes[USER_XSTATE_XCR0_WORD], asm/user.h). */
    public static final int XCR0_OFFSET = 464;
    private static final int HEADER_OFFSET = 512;
    private static final int AVX_OFFSET = 576;
    private static final int AVX_SIZE = 256;

    private XsaveFeatures() {
    }

    /** The components of {@code mask} by name, "bit N" for one this table does not know. */
    public static String describe(long mask) {
        List<String> names = new ArrayList<>();
        for (int bit = 0; bit < 64; bit++) {
            if ((mask & (1L << bit)) != 0) {
                names.add(bit < NAMES.length ? NAMES[bit] : "bit " + bit);
            }
        }
        return String.join(", ", names);
    }

    /** Of {@code mask}, the components that enable instructions a program may use (see {@link #INSTRUCTION_SETS}). */
    public static long instructionSets(long mask) {
        return mask & INSTRUCTION_SETS;
    }

    /** XCR0 of the CPU an area was saved on (0 for an area whose kernel did not say). */
    public static long xcr0(byte[] area) {
        return area.length >= HEADER_OFFSET ? ByteBuffer.wrap(area).order(ByteOrder.LITTLE_ENDIAN).getLong(XCR0_OFFSET) : 0;
    }

    /**
     * A thread's area saved on another CPU ({@code saved}) in the form of this CPU's ({@code here}, an area ptrace gave
     * on this CPU): as it is if both have the same components and size; else x87, SSE and AVX state carried over (their
     * place is the same everywhere), MPX's and PKRU's dropped ({@link #DROPPED}), and this CPU's size and software bytes.
     * Throws {@link IllegalArgumentException} naming the components that hold state it cannot carry: another
     * component laid out where only the CPU knows, or one this CPU lacks.
     */
    public static byte[] forThisCpu(byte[] saved, byte[] here) {
        long savedXcr0 = xcr0(saved);
        long hereXcr0 = xcr0(here);
        if (saved.length == here.length && savedXcr0 == hereXcr0) {
            return saved;
        }
        ByteBuffer from = ByteBuffer.wrap(saved).order(ByteOrder.LITTLE_ENDIAN);
        long live = saved.length >= AVX_OFFSET ? from.getLong(HEADER_OFFSET) : FIXED_PLACE & 0x3;
        long carried = live & FIXED_PLACE & hereXcr0;
        long lost = live & ~carried & ~DROPPED;
        if (lost != 0) {
            throw new IllegalArgumentException(describe(lost));
        }
        byte[] out = new byte[here.length];
        System.arraycopy(saved, 0, out, 0, XCR0_OFFSET);
        System.arraycopy(here, XCR0_OFFSET, out, XCR0_OFFSET, HEADER_OFFSET - XCR0_OFFSET);
        if ((carried & 0x4) != 0) {
            System.arraycopy(saved, AVX_OFFSET, out, AVX_OFFSET, AVX_SIZE);
        }
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(HEADER_OFFSET, carried);
        return out;
    }
}
