package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.ptrace.RemoteMemory;
import io.pmig.nativeio.NativeMemory;

import java.util.Arrays;

/**
 * The vdso a process had at the checkpoint, kept with its {@code [vdso]} mapping: the kernel's code as the process saw
 * it ({@code elf}, a few KiB) and its GNU build-id (null if it has none). A restore on a kernel whose vdso is another
 * puts these bytes back at the vdso's old place and redirects each function to this kernel's ({@link VdsoProxy}).
 */
public record VdsoImage(String buildId, byte[] elf) {

    /** The vdso of process {@code pid}, mapped at {@code vdso}. */
    public static VdsoImage read(int pid, MapsEntry vdso) {
        NativeMemory buffer = NativeMemory.allocate(vdso.length());
        try {
            RemoteMemory.read(pid, vdso.start(), buffer.address(), vdso.length());
        } catch (RuntimeException e) {
            throw new FailedException("cannot read the vdso of process " + pid + " at 0x" + Long.toHexString(vdso.start())
                + ": " + e.getMessage(), e);
        }
        byte[] elf = buffer.bytes(0, (int) vdso.length());
        String buildId;
        try {
            buildId = VdsoElf.parse(elf).buildId();
        } catch (IllegalArgumentException e) {
            throw new FailedException("the vdso of process " + pid + " is not an ELF image this engine reads: " + e.getMessage(), e);
        }
        return new VdsoImage(buildId, elf);
    }

    /** The same kernel code: the same build-id, or the same bytes where there is none. */
    public boolean sameBuildAs(VdsoImage other) {
        return buildId != null && other.buildId != null ? buildId.equals(other.buildId) : Arrays.equals(elf, other.elf);
    }

    /** How messages name it. */
    public String describe() {
        return buildId == null ? "a vdso without build-id" : "vdso build-id " + buildId;
    }
}
