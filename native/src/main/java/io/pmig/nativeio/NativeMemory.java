package io.pmig.nativeio;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;

import java.nio.ByteBuffer;

/** Off-heap memory for syscall arguments; freed by the garbage collector with its Pointer. */
public final class NativeMemory {
    private final Pointer pointer;
    private final long size;

    private NativeMemory(Pointer pointer, long size) {
        this.pointer = pointer;
        this.size = size;
    }

    public static NativeMemory allocate(long size) {
        return new NativeMemory(Memory.allocateDirect(Syscall.RUNTIME, size, true), size);
    }

    /** The address of a direct buffer's first byte, for passing it to the kernel. */
    public static long addressOf(ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("buffer must be direct");
        }
        return Pointer.wrap(Syscall.RUNTIME, direct).address();
    }

    public long address() {
        return pointer.address();
    }

    public long size() {
        return size;
    }

    public long getLong(long offset) {
        return pointer.getLong(offset);
    }

    public int getInt(long offset) {
        return pointer.getInt(offset);
    }

    public short getShort(long offset) {
        return pointer.getShort(offset);
    }

    public void putShort(long offset, short value) {
        pointer.putShort(offset, value);
    }

    public void putLong(long offset, long value) {
        pointer.putLong(offset, value);
    }

    public void putInt(long offset, int value) {
        pointer.putInt(offset, value);
    }

    public void get(long offset, byte[] dst, int index, int length) {
        pointer.get(offset, dst, index, length);
    }

    public byte[] bytes(long offset, int length) {
        byte[] out = new byte[length];
        pointer.get(offset, out, 0, length);
        return out;
    }

    public void put(long offset, byte[] src, int index, int length) {
        pointer.put(offset, src, index, length);
    }

    public void put(long offset, byte[] src) {
        pointer.put(offset, src, 0, src.length);
    }

    public void zero() {
        pointer.setMemory(0, size, (byte) 0);
    }
}
