package io.pmig.checkpoint.nativeio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

/**
 * A thread's XSAVE area made fit for another CPU, with the two CPUs of test-vm's VdsoVmTest: QEMU's emulated one
 * (XCR0 0x21f: x87, SSE, AVX, MPX, PKRU; a 2696-byte area) and the development machines' (0x600e7: no MPX nor PKRU,
 * AVX-512 and AMX; 11008 bytes).
 */
class XsaveFeaturesTest {
    private static final long EMULATED = 0x21f;
    private static final long HOST = 0x600e7;

    @Test
    void anAreaOfTheSameCpuKindIsTakenAsItIs() {
        byte[] saved = area(HOST, 11008, 0x7, (byte) 1);
        assertSame(saved, XsaveFeatures.forThisCpu(saved, area(HOST, 11008, 0x3, (byte) 0)));
    }

    @Test
    void x87SseAndAvxStateCrossToTheOtherLayoutAndMpxAndPkruAreDropped() {
        byte[] saved = area(EMULATED, 2696, EMULATED, (byte) 0x5a);
        byte[] here = area(HOST, 11008, 0x3, (byte) 0);
        byte[] out = XsaveFeatures.forThisCpu(saved, here);
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(11008, out.length, "this CPU's size");
        assertEquals(0x7, b.getLong(512), "XSTATE_BV: x87, SSE and AVX");
        assertEquals(HOST, XsaveFeatures.xcr0(out), "this CPU's software bytes");
        assertArrayEquals(Arrays.copyOfRange(saved, 0, 464), Arrays.copyOfRange(out, 0, 464), "the legacy region");
        assertArrayEquals(Arrays.copyOfRange(saved, 576, 832), Arrays.copyOfRange(out, 576, 832), "AVX's upper halves");
        assertTrue(Arrays.equals(new byte[out.length - 832], Arrays.copyOfRange(out, 832, out.length)), "nothing else");
    }

    @Test
    void stateOfAComponentLaidOutOnlyWhereTheCpuKnowsIsRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> XsaveFeatures.forThisCpu(area(HOST, 11008, 0x27, (byte) 1), area(0x207, 2696, 0x3, (byte) 0)));
        assertEquals("AVX-512 opmask", e.getMessage());
        assertEquals("AVX-512 opmask, AVX-512 ZMM_Hi256, AVX-512 Hi16_ZMM, AMX tile config, AMX tile data",
            XsaveFeatures.describe(XsaveFeatures.instructionSets(HOST & ~EMULATED)));
    }

    /** An area of {@code size} bytes saved on a CPU with {@code xcr0}, components {@code live} in use, every byte {@code fill}. */
    private static byte[] area(long xcr0, int size, long live, byte fill) {
        byte[] a = new byte[size];
        Arrays.fill(a, fill);
        ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN).putLong(464, xcr0).putLong(512, live).putLong(520, 0);
        return a;
    }
}
