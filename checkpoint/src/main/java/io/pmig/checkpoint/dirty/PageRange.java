package io.pmig.checkpoint.dirty;

/** The pages [start, end) of a process's address space; both ends page-aligned. */
public record PageRange(long start, long end) {
    public long length() {
        return end - start;
    }

    @Override
    public String toString() {
        return "0x" + Long.toHexString(start) + "-0x" + Long.toHexString(end);
    }
}
