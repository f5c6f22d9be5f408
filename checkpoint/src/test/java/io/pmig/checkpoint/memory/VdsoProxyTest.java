package io.pmig.checkpoint.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/**
 * The vdso's ELF symbol reader on this kernel's own vdso and on synthetic ones, and the redirection a restore on
 * another kernel writes into the image's vdso, decoded back: each function's entry jumps to the same function of the
 * other vdso, or makes its system call, and a function with neither is refused by name.
 */
class VdsoProxyTest {
    private static final List<String> EVERY_KERNEL_HAS = List.of("__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
        "__vdso_getcpu", "__vdso_clock_getres");

    @Test
    void thisKernelsVdsoExportsItsFunctionsAndABuildId() {
        VdsoImage own = ownVdso();
        VdsoElf elf = VdsoElf.parse(own.elf());
        for (String name : EVERY_KERNEL_HAS) {
            VdsoElf.Function f = elf.functions().get(name);
            assertTrue(f != null, name + " missing from " + elf.functions().keySet());
            assertTrue(f.size() > 0 && f.offset() + f.size() <= own.elf().length, name + " " + f);
            // the unprefixed alias is the same code
            assertEquals(f, elf.functions().get(name.substring("__vdso_".length())), name);
        }
        assertTrue(own.buildId() != null && own.buildId().matches("[0-9a-f]{16,}"), "build-id " + own.buildId());
        assertTrue(own.sameBuildAs(new VdsoImage(own.buildId(), new byte[0])), "the build-id decides when both have one");
    }

    @Test
    void aSyntheticImageReadsAsWritten() {
        byte[] elf = synthetic(Map.of("__vdso_clock_gettime", new VdsoElf.Function(0x400, 64), "__vdso_frobnicate",
            new VdsoElf.Function(0x440, 16)), "c0ffee");
        VdsoElf parsed = VdsoElf.parse(elf);
        assertEquals(Map.of("__vdso_clock_gettime", new VdsoElf.Function(0x400, 64), "__vdso_frobnicate", new VdsoElf.Function(0x440, 16)),
            parsed.functions());
        assertEquals("c0ffee", parsed.buildId());
    }

    @Test
    void whatIsNotAVdsoImageIsRejected() {
        byte[] elf = ownVdso().elf();
        assertThrows(IllegalArgumentException.class, () -> VdsoElf.parse(new byte[100]));
        assertThrows(IllegalArgumentException.class, () -> VdsoElf.parse(Arrays.copyOf(elf, 0x800)), "cut before its section headers");
    }

    @Test
    void redirectedToAFarVdsoEveryEntryJumpsToTheSameFunctionThere() {
        VdsoImage own = ownVdso();
        Map<String, VdsoElf.Function> functions = VdsoElf.parse(own.elf()).functions();
        long oldBase = 0x7f0000000000L;
        long hereBase = 1L << 40;
        byte[] patched = VdsoProxy.redirect(own, oldBase, functions, hereBase);
        for (VdsoElf.Function f : functions.values()) {
            ByteBuffer at = ByteBuffer.wrap(patched, (int) f.offset(), 13).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0xbb49, at.getShort() & 0xffff, "movabs $imm64, %r11 at " + f);
            assertEquals(hereBase + f.offset(), at.getLong(), "the jump's target for " + f);
            assertEquals(0xe3ff41, (at.get() & 0xff) | (at.get() & 0xff) << 8 | (at.get() & 0xff) << 16, "jmp *%r11 at " + f);
        }
        // nothing but the entries changed: the ELF headers, symbols and notes read as before
        assertEquals(functions, VdsoElf.parse(patched).functions());
        assertEquals(own.buildId(), VdsoElf.parse(patched).buildId());
    }

    @Test
    void redirectedToANearVdsoEveryEntryTakesTheShortJump() {
        VdsoImage own = ownVdso();
        Map<String, VdsoElf.Function> functions = VdsoElf.parse(own.elf()).functions();
        long oldBase = 0x7f0000000000L;
        long hereBase = oldBase - (64L << 20);
        byte[] patched = VdsoProxy.redirect(own, oldBase, functions, hereBase);
        for (VdsoElf.Function f : functions.values()) {
            ByteBuffer at = ByteBuffer.wrap(patched, (int) f.offset(), 5).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0xe9, at.get() & 0xff, "jmp rel32 at " + f);
            assertEquals(hereBase + f.offset(), oldBase + f.offset() + 5 + at.getInt(), "the jump's target for " + f);
        }
    }

    @Test
    void aFunctionThisKernelLacksBecomesItsSystemCall() {
        byte[] old = synthetic(Map.of("__vdso_getrandom", new VdsoElf.Function(0x400, 64), "getrandom", new VdsoElf.Function(0x400, 64),
            "__vdso_time", new VdsoElf.Function(0x440, 16), "__vdso_sgx_enter_enclave", new VdsoElf.Function(0x450, 32)), null);
        Map<String, VdsoElf.Function> here = Map.of("__vdso_time", new VdsoElf.Function(0x900, 40));
        byte[] patched = VdsoProxy.redirect(new VdsoImage(null, old), 0x7f0000000000L, here, 0x7f0000100000L);
        assertArrayEquals(new byte[] {(byte) 0xb8, 0x3e, 0x01, 0, 0, 0x0f, 0x05, (byte) 0xc3}, Arrays.copyOfRange(patched, 0x400, 0x408),
            "mov $318 (getrandom), %eax; syscall; ret");
        ByteBuffer time = ByteBuffer.wrap(patched, 0x440, 5).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xe9, time.get() & 0xff);
        assertEquals(0x7f0000100000L + 0x900, 0x7f0000000000L + 0x440 + 5 + time.getInt(), "time jumps to this kernel's");
        assertArrayEquals(new byte[] {(byte) 0xb8, (byte) 0xea, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xc3},
            Arrays.copyOfRange(patched, 0x450, 0x456), "no enclave can be entered: mov $-EINVAL, %eax; ret");
    }

    @Test
    void aFunctionWithNoStandInIsARefusalNamingIt() {
        byte[] old = synthetic(Map.of("__vdso_clock_gettime", new VdsoElf.Function(0x400, 64), "__vdso_frobnicate",
            new VdsoElf.Function(0x440, 16)), "c0ffee");
        RefusedException e = assertThrows(RefusedException.class, () -> VdsoProxy.redirect(new VdsoImage("c0ffee", old), 0x7f0000000000L,
            Map.of("__vdso_clock_gettime", new VdsoElf.Function(0x900, 40)), 0x7f0000100000L));
        assertTrue(e.getMessage().contains("__vdso_frobnicate") && e.getMessage().contains("c0ffee"), e.getMessage());
    }

    @Test
    void aFunctionTooShortForItsJumpIsRefused() {
        byte[] old = synthetic(Map.of("__vdso_time", new VdsoElf.Function(0x400, 8)), null);
        RefusedException e = assertThrows(RefusedException.class, () -> VdsoProxy.redirect(new VdsoImage(null, old), 0x7f0000000000L,
            Map.of("__vdso_time", new VdsoElf.Function(0x900, 40)), 1L << 40));
        assertTrue(e.getMessage().contains("__vdso_time has 8 bytes"), e.getMessage());
    }

    /** This process's own vdso, the kernel's. */
    static VdsoImage ownVdso() {
        ProcFs self = new ProcFs((int) ProcessHandle.current().pid());
        MapsEntry vdso = self.maps().stream().filter(e -> e.path().equals("[vdso]")).findFirst().orElseThrow();
        return VdsoImage.read(self.pid(), vdso);
    }

    /**
     * A 4 KiB ELF image with a dynamic symbol table of {@code functions} (code at their offsets, linked at 0x1000 more than
     * they lie in the file, so that reading them needs the section's address) and a build-id note unless null.
     */
    static byte[] synthetic(Map<String, VdsoElf.Function> functions, String buildId) {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(0x10, (short) 3).putShort(0x12, (short) 0x3e).putShort(0x34, (short) 64);
        Map<String, Integer> names = new LinkedHashMap<>();
        int strtab = 0x200;
        int at = strtab + 1;
        for (String name : functions.keySet()) {
            names.put(name, at - strtab);
            b.put(at, name.getBytes(StandardCharsets.US_ASCII));
            at += name.length() + 1;
        }
        int symtab = 0x40;
        int index = 1;
        for (Map.Entry<String, VdsoElf.Function> f : functions.entrySet()) {
            int sym = symtab + 24 * index++;
            b.putInt(sym, names.get(f.getKey())).put(sym + 4, (byte) (1 << 4 | 2)).putShort(sym + 6, (short) 3)
                .putLong(sym + 8, f.getValue().offset() + 0x1000).putLong(sym + 16, f.getValue().size());
        }
        int note = 0x300;
        byte[] id = buildId == null ? new byte[0] : java.util.HexFormat.of().parseHex(buildId);
        b.putInt(note, 4).putInt(note + 4, id.length).putInt(note + 8, buildId == null ? 1 : 3).put(note + 12, "GNU\0".getBytes(StandardCharsets.US_ASCII))
            .put(note + 16, id);
        int shoff = 0xe00;
        Map<Integer, long[]> sections = new HashMap<>();          // type, offset, size, link, address
        sections.put(1, new long[] {11, symtab, 24L * index, 2, symtab});
        sections.put(2, new long[] {3, strtab, at - strtab, 0, strtab});
        sections.put(3, new long[] {1, 0x400, 0x400, 0, 0x1400});
        sections.put(4, new long[] {7, note, 16 + ((id.length + 3) & ~3), 0, note});
        for (Map.Entry<Integer, long[]> s : sections.entrySet()) {
            int sh = shoff + 64 * s.getKey();
            long[] v = s.getValue();
            b.putInt(sh + 4, (int) v[0]).putLong(sh + 0x10, v[4]).putLong(sh + 0x18, v[1]).putLong(sh + 0x20, v[2]).putInt(sh + 0x28, (int) v[3]);
        }
        b.putLong(0x28, shoff).putShort(0x3a, (short) 64).putShort(0x3c, (short) 5);
        return b.array();
    }
}
