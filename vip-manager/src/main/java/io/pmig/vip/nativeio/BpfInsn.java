package io.pmig.vip.nativeio;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A BPF program under construction: typed eBPF instructions (struct bpf_insn {u8 code; u8 dst_reg:4,
 * src_reg:4; s16 off; s32 imm;}) with the opcodes of linux/bpf_common.h and linux/bpf.h, and forward
 * jumps to labels resolved when the program is assembled.
 */
public final class BpfInsn {
    /** Registers: R0 the return value, R1-R5 arguments, R6-R9 callee-saved, R10 the frame pointer. */
    public static final int R0 = 0, R1 = 1, R2 = 2, R3 = 3, R6 = 6, R7 = 7, R10 = 10;
    /** Instruction classes. */
    private static final int LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, JMP = 0x05, JMP32 = 0x06, ALU64 = 0x07;
    /** Sizes. */
    public static final int W = 0x00, H = 0x08, DW = 0x18;
    /** Modes. */
    private static final int IMM = 0x00, MEM = 0x60;
    /** ALU operations and operand sources. */
    private static final int ADD = 0x00, AND = 0x50, MOV = 0xb0, K = 0x00, X = 0x08;
    /** Jumps. */
    private static final int JEQ = 0x10, JNE = 0x50, CALL = 0x80, EXIT = 0x90;
    /** ld_imm64's src_reg: the immediate is a map fd and the next instruction's imm an offset into its value. */
    private static final int PSEUDO_MAP_VALUE = 2;
    private static final int INSN_SIZE = 8;

    private record Insn(int code, int dst, int src, int off, int imm, String label) {
    }

    private final List<Insn> insns = new ArrayList<>();
    private final Map<String, Integer> labels = new HashMap<>();

    public BpfInsn movImm(int dst, int imm) {
        return add(ALU64 | MOV | K, dst, 0, 0, imm);
    }

    public BpfInsn mov(int dst, int src) {
        return add(ALU64 | MOV | X, dst, src, 0, 0);
    }

    public BpfInsn addImm(int dst, int imm) {
        return add(ALU64 | ADD | K, dst, 0, 0, imm);
    }

    public BpfInsn andImm(int dst, int imm) {
        return add(ALU64 | AND | K, dst, 0, 0, imm);
    }

    /** dst = *(size *)(src + off) */
    public BpfInsn load(int size, int dst, int src, int off) {
        return add(LDX | size | MEM, dst, src, off, 0);
    }

    /** *(size *)(dst + off) = src */
    public BpfInsn store(int size, int dst, int off, int src) {
        return add(STX | size | MEM, dst, src, off, 0);
    }

    /** *(size *)(dst + off) = imm */
    public BpfInsn storeImm(int size, int dst, int off, int imm) {
        return add(ST | size | MEM, dst, 0, off, imm);
    }

    /** dst = the address of byte {@code offset} of element 0 of the array map behind {@code mapFd} (two instructions). */
    public BpfInsn loadMapValue(int dst, int mapFd, int offset) {
        add(LD | DW | IMM, dst, PSEUDO_MAP_VALUE, 0, mapFd);
        return add(0, 0, 0, 0, offset);
    }

    /** if dst == imm goto label */
    public BpfInsn jumpIfEqual(int dst, int imm, String label) {
        insns.add(new Insn(JMP | JEQ | K, dst, 0, 0, imm, label));
        return this;
    }

    /** if dst != imm goto label */
    public BpfInsn jumpIfNotEqual(int dst, int imm, String label) {
        insns.add(new Insn(JMP | JNE | K, dst, 0, 0, imm, label));
        return this;
    }

    /** if (u32) dst != (u32) imm goto label: a 32-bit compare, for an immediate with its top bit set */
    public BpfInsn jump32IfNotEqual(int dst, int imm, String label) {
        insns.add(new Insn(JMP32 | JNE | K, dst, 0, 0, imm, label));
        return this;
    }

    public BpfInsn call(int helper) {
        return add(JMP | CALL, 0, 0, 0, helper);
    }

    public BpfInsn exit() {
        return add(JMP | EXIT, 0, 0, 0, 0);
    }

    /** Names the next instruction as a jump target. */
    public BpfInsn label(String name) {
        labels.put(name, insns.size());
        return this;
    }

    private BpfInsn add(int code, int dst, int src, int off, int imm) {
        insns.add(new Insn(code, dst, src, off, imm, null));
        return this;
    }

    public int count() {
        return insns.size();
    }

    /** The program as the kernel reads it (little-endian, x86_64). */
    public byte[] assemble() {
        ByteBuffer out = ByteBuffer.allocate(insns.size() * INSN_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < insns.size(); i++) {
            Insn in = insns.get(i);
            int off = in.off();
            if (in.label() != null) {
                Integer target = labels.get(in.label());
                if (target == null) {
                    throw new IllegalStateException("BPF jump to undefined label " + in.label());
                }
                off = target - i - 1;
            }
            out.put((byte) in.code()).put((byte) (in.dst() | in.src() << 4)).putShort((short) off).putInt(in.imm());
        }
        return out.array();
    }
}
