package io.pmig.checkpoint.memory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a vdso exports, read from its ELF image (64-bit, little-endian, as x86_64 kernels build it): the functions of
 * its dynamic symbol table, each at its offset from the start of the image, and its GNU build-id. Read from the
 * section headers (the vdso keeps them), which give file offsets directly (elf.h: Elf64_Ehdr, Elf64_Shdr, Elf64_Sym,
 * Elf64_Nhdr). Throws {@link IllegalArgumentException} for anything that is not such an image.
 */
public final class VdsoElf {
    private static final int SHT_DYNSYM = 11;
    private static final int SHT_NOTE = 7;
    private static final int STT_FUNC = 2;
    private static final int STB_GLOBAL = 1;
    private static final int STB_WEAK = 2;
    private static final int SHN_UNDEF = 0;
    private static final int NT_GNU_BUILD_ID = 3;
    private static final int SHDR_SIZE = 64;
    private static final int SYM_SIZE = 24;

    /** A function of the vdso: where it starts in the image and how many bytes its code has. */
    public record Function(long offset, long size) {
    }

    private final Map<String, Function> functions;
    private final String buildId;

    private VdsoElf(Map<String, Function> functions, String buildId) {
        this.functions = functions;
        this.buildId = buildId;
    }

    public static VdsoElf parse(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (image.length < 64 || b.getInt(0) != 0x464c457f || image[4] != 2 || image[5] != 1) {
            throw new IllegalArgumentException("not a 64-bit little-endian ELF image");
        }
        long shoff = b.getLong(0x28);
        int shentsize = Short.toUnsignedInt(b.getShort(0x3a));
        int shnum = Short.toUnsignedInt(b.getShort(0x3c));
        if (shentsize != SHDR_SIZE || shnum == 0 || shoff < 0 || shoff + (long) shnum * SHDR_SIZE > image.length) {
            throw new IllegalArgumentException("its section headers lie outside the image");
        }
        Map<String, Function> functions = new LinkedHashMap<>();
        String buildId = null;
        boolean symbols = false;
        for (int i = 0; i < shnum; i++) {
            int sh = (int) (shoff + (long) i * SHDR_SIZE);
            int type = b.getInt(sh + 4);
            if (type == SHT_DYNSYM) {
                readFunctions(b, sh, shoff, shnum, functions);
                symbols = true;
            } else if (type == SHT_NOTE && buildId == null) {
                buildId = buildIdIn(b, within(b, b.getLong(sh + 0x18), b.getLong(sh + 0x20)), b.getLong(sh + 0x20));
            }
        }
        if (!symbols) {
            throw new IllegalArgumentException("it has no dynamic symbol table");
        }
        return new VdsoElf(Map.copyOf(functions), buildId);
    }

    private static void readFunctions(ByteBuffer b, int sh, long shoff, int shnum, Map<String, Function> out) {
        int symbols = within(b, b.getLong(sh + 0x18), b.getLong(sh + 0x20));
        long count = b.getLong(sh + 0x20) / SYM_SIZE;
        int link = b.getInt(sh + 0x28);
        if (link <= 0 || link >= shnum) {
            throw new IllegalArgumentException("its symbol table names no string table");
        }
        int strtabHeader = (int) (shoff + (long) link * SHDR_SIZE);
        long strtabSize = b.getLong(strtabHeader + 0x20);
        int strtab = within(b, b.getLong(strtabHeader + 0x18), strtabSize);
        for (long s = 1; s < count; s++) {
            int sym = symbols + (int) s * SYM_SIZE;
            int info = b.get(sym + 4) & 0xff;
            int section = Short.toUnsignedInt(b.getShort(sym + 6));
            int binding = info >> 4;
            if ((info & 0xf) != STT_FUNC || section == SHN_UNDEF || section >= shnum
                    || (binding != STB_GLOBAL && binding != STB_WEAK)) {
                continue;
            }
            // st_value is an address of the image as linked; its section says where that address lies in the file
            int home = (int) (shoff + (long) section * SHDR_SIZE);
            long offset = b.getLong(sym + 8) - b.getLong(home + 0x10) + b.getLong(home + 0x18);
            long size = b.getLong(sym + 16);
            if (offset < 0 || size < 0 || offset + size > b.capacity()) {
                throw new IllegalArgumentException("a function lies outside the image");
            }
            out.put(string(b, strtab, strtabSize, b.getInt(sym)), new Function(offset, size));
        }
    }

    /** The GNU build-id in a note section, in hex; null if it has none. */
    private static String buildIdIn(ByteBuffer b, int start, long size) {
        int at = start;
        while (at + 12 <= start + size) {
            int nameSize = b.getInt(at);
            int descSize = b.getInt(at + 4);
            int type = b.getInt(at + 8);
            int name = at + 12;
            int desc = name + align4(nameSize);
            if (nameSize < 0 || descSize < 0 || desc + (long) descSize > start + size) {
                throw new IllegalArgumentException("a note runs past its section");
            }
            if (type == NT_GNU_BUILD_ID && nameSize == 4 && b.getInt(name) == 0x00554e47) { // "GNU\0"
                byte[] id = new byte[descSize];
                b.get(desc, id);
                return HexFormat.of().formatHex(id);
            }
            at = desc + align4(descSize);
        }
        return null;
    }

    private static int align4(int n) {
        return (n + 3) & ~3;
    }

    /** Checks that [offset, offset + size) lies in the image; returns offset. */
    private static int within(ByteBuffer b, long offset, long size) {
        if (offset < 0 || size < 0 || offset + size > b.capacity()) {
            throw new IllegalArgumentException("a section lies outside the image");
        }
        return (int) offset;
    }

    private static String string(ByteBuffer b, int strtab, long size, int index) {
        if (index < 0 || index >= size) {
            throw new IllegalArgumentException("a symbol's name lies outside its string table");
        }
        StringBuilder s = new StringBuilder();
        for (int i = strtab + index; i < strtab + size && b.get(i) != 0; i++) {
            s.append((char) (b.get(i) & 0xff));
        }
        return s.toString();
    }

    /** Every exported function by name (aliases such as clock_gettime and __vdso_clock_gettime each). */
    public Map<String, Function> functions() {
        return functions;
    }

    /** The GNU build-id in hex, or null. */
    public String buildId() {
        return buildId;
    }
}
