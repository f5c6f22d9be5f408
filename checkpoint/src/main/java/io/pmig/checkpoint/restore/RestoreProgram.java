package io.pmig.checkpoint.restore;

import io.pmig.nativeio.NativeMemory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A list of system calls for the restorer to run inside the restored process in one go,
 * with their memory arguments. An argument may take the result of an earlier call (a
 * descriptor just opened, say); a call marked as required stops the program when it fails.
 */
public final class RestoreProgram {
    private record Op(int nr, long[] args, int refMask, int ref, boolean required, String what) {
    }

    private final long programAddress;
    private final long dataAddress;
    /** The data area's first bytes; most programs carry a few hundred bytes of data. */
    private static final long INITIAL_DATA_BYTES = 4096;

    private final List<Op> ops = new ArrayList<>();
    /**
     * The data, grown on demand up to {@link RestorerLayout#DATA_BYTES}: allocating (and zeroing) all of it
     * for every program cost a restore milliseconds of page faults per program.
     */
    private NativeMemory data = NativeMemory.allocate(INITIAL_DATA_BYTES);
    private long dataUsed;
    private long[] results;

    RestoreProgram(long scratch) {
        this.programAddress = scratch;
        this.dataAddress = scratch + RestorerLayout.PROGRAM_BYTES;
    }

    /** Adds a call that must succeed; {@code what} names it in the error if it does not. Returns its index. */
    public int call(String what, int nr, long... args) {
        return add(new Op(nr, args, 0, 0, true, what));
    }

    /** Adds a call whose failure is reported in its result but does not stop the program. */
    public int tryCall(String what, int nr, long... args) {
        return add(new Op(nr, args, 0, 0, false, what));
    }

    /** Adds a required call whose arguments at the positions in {@code argsFromRef} are the result of call {@code ref}. */
    public int callWithResultOf(int ref, int[] argsFromRef, String what, int nr, long... args) {
        return add(new Op(nr, args, mask(argsFromRef), ref, true, what));
    }

    /** Like {@link #callWithResultOf}, but a failure (a negative result of {@code ref} passed on, say) does not stop the program. */
    public int tryCallWithResultOf(int ref, int[] argsFromRef, String what, int nr, long... args) {
        return add(new Op(nr, args, mask(argsFromRef), ref, false, what));
    }

    private static int mask(int[] argsFromRef) {
        int mask = 0;
        for (int a : argsFromRef) {
            mask |= 1 << a;
        }
        return mask;
    }

    private int add(Op op) {
        if ((ops.size() + 1L) * RestorerLayout.OP_SIZE + RestorerLayout.PROGRAM_HEADER > RestorerLayout.PROGRAM_BYTES) {
            throw new IllegalStateException("restore program is full (" + ops.size() + " calls); split it");
        }
        ops.add(op);
        return ops.size() - 1;
    }

    /** Whether {@code calls} more calls fit. */
    public boolean hasRoomFor(int calls) {
        return (ops.size() + (long) calls) * RestorerLayout.OP_SIZE + RestorerLayout.PROGRAM_HEADER <= RestorerLayout.PROGRAM_BYTES;
    }

    public boolean isEmpty() {
        return ops.isEmpty();
    }

    public int size() {
        return ops.size();
    }

    /** Copies {@code bytes} into the program's data; returns their address inside the restored process. */
    public long data(byte[] bytes) {
        long at = reserve(bytes.length);
        data.put(at - dataAddress, bytes);
        return at;
    }

    public long cString(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        byte[] z = new byte[b.length + 1];
        System.arraycopy(b, 0, z, 0, b.length);
        return data(z);
    }

    /** Room for {@code length} zeroed bytes, 16-aligned, for data the calls read or write. */
    public long reserve(long length) {
        long at = (dataUsed + 15) & ~15L;
        if (at + length > RestorerLayout.DATA_BYTES) {
            throw new IllegalStateException("restore program data is full; split the program");
        }
        if (at + length > data.size()) {
            NativeMemory bigger = NativeMemory.allocate(Math.min(RestorerLayout.DATA_BYTES, Math.max(2 * data.size(), at + length)));
            bigger.put(0, data.bytes(0, (int) dataUsed));
            data = bigger;
        }
        dataUsed = at + length;
        return dataAddress + at;
    }

    long programAddress() {
        return programAddress;
    }

    long dataAddress() {
        return dataAddress;
    }

    long dataUsed() {
        return dataUsed;
    }

    NativeMemory dataMemory() {
        return data;
    }

    NativeMemory encode() {
        NativeMemory m = NativeMemory.allocate(RestorerLayout.PROGRAM_HEADER + (long) ops.size() * RestorerLayout.OP_SIZE);
        m.putLong(0, ops.size());
        m.putLong(8, -1);
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            long base = RestorerLayout.PROGRAM_HEADER + (long) i * RestorerLayout.OP_SIZE;
            m.putLong(base, op.nr);
            for (int a = 0; a < 6; a++) {
                m.putLong(base + 8 + a * 8L, a < op.args.length ? op.args[a] : 0);
            }
            m.putLong(base + 56, 0);
            m.putInt(base + 64, op.refMask | (op.required ? RestorerLayout.MUST_SUCCEED : 0));
            m.putInt(base + 68, op.ref);
        }
        return m;
    }

    void decodeResults(NativeMemory m) {
        results = new long[ops.size()];
        for (int i = 0; i < ops.size(); i++) {
            results[i] = m.getLong(RestorerLayout.PROGRAM_HEADER + (long) i * RestorerLayout.OP_SIZE + 56);
        }
    }

    public long result(int index) {
        return results[index];
    }

    String describe(int index) {
        return ops.get(index).what;
    }
}
