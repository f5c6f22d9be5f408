package io.pmig.vip.nativeio;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;

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

    public long address() {
        return pointer.address();
    }

    public long size() {
        return size;
    }

    public int getInt(long offset) {
        return pointer.getInt(offset);
    }

    public short getShort(long offset) {
        return pointer.getShort(offset);
    }

    public void putInt(long offset, int value) {
        pointer.putInt(offset, value);
    }

    public void putShort(long offset, short value) {
        pointer.putShort(offset, value);
    }

    public byte[] bytes(long offset, int length) {
        byte[] out = new byte[length];
        pointer.get(offset, out, 0, length);
        return out;
    }

    public void get(long offset, byte[] dst, int index, int length) {
        pointer.get(offset, dst, index, length);
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
