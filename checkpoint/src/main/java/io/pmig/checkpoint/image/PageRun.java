package io.pmig.checkpoint.image;

public record PageRun(long address, int pageCount, long dataOffset) {
    public long end(int pageSize) {
        return address + byteLength(pageSize);
    }

    public long byteLength(int pageSize) {
        return (long) pageCount * pageSize;
    }
}
