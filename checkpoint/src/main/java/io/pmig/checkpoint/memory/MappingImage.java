package io.pmig.checkpoint.memory;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.pmig.checkpoint.image.ImageKind;

import java.util.List;

/**
 * One mapping of the address space. {@code backing} says what is behind it; file mappings carry
 * the file's identity, checked before a restore re-maps the file by path. {@code vmFlags}: the
 * mapping's flags from smaps ("VmFlags") that a process sets itself and a restore gives back
 * ({@link VmFlag}), by their smaps names. {@code sharedObject}: for shared anonymous memory, the inode of its
 * object, which the processes of a tree that map it share, for a System V segment its id (0 otherwise, and in images made before it was kept).
 * {@code carried}: for a file whose contents travel in the image (tmpfs, deleted, memfd), the key of its
 * {@link io.pmig.checkpoint.carried.CarriedFile}, mapped from there and not by path ({@code file} is null); absent otherwise.
 * {@code vdso}: for the {@code [vdso]} mapping, the kernel's code the process had ({@link VdsoImage}); absent otherwise,
 * and in images made before it was kept.
 * {@code sysvReadOnly}: a System V segment attached read-only ({@code SHM_RDONLY}: smaps shows no "mw"), whose id is
 * {@code sharedObject}; absent otherwise.
 * Page contents are in PAGES records, not here (a System V segment's are in its own object, {@code ipc/}).
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
        FileIdentity file,
        List<String> vmFlags,
        long sharedObject,
        @JsonInclude(JsonInclude.Include.NON_NULL) String carried,
        @JsonInclude(JsonInclude.Include.NON_NULL) VdsoImage vdso,
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) boolean sysvReadOnly) {

    public MappingImage {
        vmFlags = vmFlags == null ? List.of() : List.copyOf(vmFlags);
    }

    /** A mapping that is not the vdso, of no System V segment attached read-only. */
    public MappingImage(long start, long end, int prot, boolean shared, boolean growsDown, Backing backing, String name,
                        long fileOffset, FileIdentity file, List<String> vmFlags, long sharedObject, String carried) {
        this(start, end, prot, shared, growsDown, backing, name, fileOffset, file, vmFlags, sharedObject, carried, null, false);
    }

    /** A mapping of nothing carried in the image. */
    public MappingImage(long start, long end, int prot, boolean shared, boolean growsDown, Backing backing, String name,
                        long fileOffset, FileIdentity file, List<String> vmFlags, long sharedObject) {
        this(start, end, prot, shared, growsDown, backing, name, fileOffset, file, vmFlags, sharedObject, null);
    }

    /** A mapping of no shared anonymous object. */
    public MappingImage(long start, long end, int prot, boolean shared, boolean growsDown, Backing backing, String name,
                        long fileOffset, FileIdentity file, List<String> vmFlags) {
        this(start, end, prot, shared, growsDown, backing, name, fileOffset, file, vmFlags, 0);
    }

    /** A mapping with no flag of its own set. */
    public MappingImage(long start, long end, int prot, boolean shared, boolean growsDown, Backing backing, String name,
                        long fileOffset, FileIdentity file) {
        this(start, end, prot, shared, growsDown, backing, name, fileOffset, file, List.of());
    }

    public enum Backing {
        /** private anonymous memory: heap, stacks, malloc arenas; pages stored */
        ANONYMOUS,
        /** MAP_SHARED|MAP_ANONYMOUS (shmem); pages stored */
        SHARED_ANONYMOUS,
        /** file mapping; private ones store the pages that differ from the file */
        FILE,
        /** vdso/vvar: the restoring kernel's own, moved to the same address (or standing in for the image's: {@link VdsoProxy}) */
        KERNEL,
        /** an attachment of System V shared memory (shmat), whose id is {@code sharedObject}; attached again at its address */
        SYSV_SHM
    }

    public long length() {
        return end - start;
    }
}
