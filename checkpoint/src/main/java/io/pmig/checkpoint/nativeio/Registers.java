package io.pmig.checkpoint.nativeio;

import java.util.Arrays;

/** x86_64 general registers: struct user_regs_struct of asm/user_64.h (27 unsigned longs). */
public final class Registers {
    public static final int SIZE = 27 * 8;
    public static final int RBP = 4;
    public static final int RAX = 10;
    public static final int RDX = 12;
    public static final int RSI = 13;
    public static final int RDI = 14;
    public static final int ORIG_RAX = 15;
    public static final int RIP = 16;
    public static final int RSP = 19;
    public static final int FS_BASE = 21;
    public static final int GS_BASE = 22;
    private static final int R10 = 7;
    private static final int R9 = 8;
    private static final int R8 = 9;
    private static final int[] SYSCALL_ARGS = {RDI, RSI, RDX, R10, R8, R9};

    private final long[] words;

    public Registers(long[] words) {
        if (words.length != 27) {
            throw new IllegalArgumentException("user_regs_struct has 27 words, got " + words.length);
        }
        this.words = words.clone();
    }

    public long get(int index) {
        return words[index];
    }

    public Registers with(int index, long value) {
        long[] copy = words.clone();
        copy[index] = value;
        return new Registers(copy);
    }

    /** These registers prepared to run syscall {@code nr} with {@code args} at {@code rip}. */
    public Registers forSyscall(long rip, long nr, long... args) {
        long[] copy = words.clone();
        copy[RIP] = rip;
        copy[RAX] = nr;
        copy[ORIG_RAX] = -1;
        for (int i = 0; i < 6; i++) {
            copy[SYSCALL_ARGS[i]] = i < args.length ? args[i] : 0;
        }
        return new Registers(copy);
    }

    public long[] words() {
        return words.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Registers r && Arrays.equals(words, r.words);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(words);
    }
}
