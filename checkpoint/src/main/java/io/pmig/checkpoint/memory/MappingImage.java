package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.image.ImageKind;

/**
 * One mapping of the address space. {@code backing} says what is behind it; file mappings carry
 * the file's identity, checked before a restore re-maps the file by path. Page contents are in
 * PAGES records, not here.
 */
@ImageKind("mapping")
public record MappingImage(
        long start,
        long end,
        int prot,
        boolean shared,
        boolean growsDown,
        Backing backing,
        String name,
        long fileOffset,
        FileIdentity file) {

    public enum Backing {
        /** private anonymous memory: heap, stacks, malloc arenas; pages stored */
        ANONYMOUS,
        /** MAP_SHARED|MAP_ANONYMOUS (shmem); pages stored */
        SHARED_ANONYMOUS,
        /** file mapping; private ones store the pages that differ from the file */
        FILE,
        /** vdso/vvar: the restoring kernel's own, moved to the same address */
        KERNEL
    }

    public long length() {
        return end - start;
    }
}
