package io.pmig.checkpoint.nativeio;

import java.util.ArrayList;
import java.util.List;

/** The state components of XSAVE by their bit in XCR0 (enum xfeature, arch/x86/include/asm/fpu/types.h). */
public final class XsaveFeatures {
    private static final String[] NAMES = {
        "x87", "SSE", "AVX", "MPX bounds registers", "MPX CSR", "AVX-512 opmask", "AVX-512 ZMM_Hi256", "AVX-512 Hi16_ZMM",
        "PT", "PKRU (protection keys)", "PASID", "CET user", "CET supervisor", "HDC", "UINTR", "LBR", "HWP",
        "AMX tile config", "AMX tile data", "APX"};

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
}
