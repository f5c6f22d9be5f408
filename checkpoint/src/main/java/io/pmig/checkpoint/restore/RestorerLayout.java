package io.pmig.checkpoint.restore;

/** The hole's layout and the program format; mirrors checkpoint/src/main/c/restorer.h. */
final class RestorerLayout {
    static final long CTL_OFFSET = 0x10000L;
    /** struct rst_control: magic, run_program, syscall_stub, hole_start, hole_size, blob_size, engine_pidfd, xcr0 */
    static final int CTL_SIZE = 64;
    static final long STACKS_OFFSET = 0x11000L;
    static final long STACK_SIZE = 0x4000L;
    static final int MAX_THREADS = 256;
    static final long SCRATCH_OFFSET = STACKS_OFFSET + STACK_SIZE * MAX_THREADS;
    static final long MAGIC = 0x31545352474d5050L;
    /** Programs at the start of the scratch area, their data after. */
    static final long PROGRAM_BYTES = 6L << 20;
    static final long DATA_BYTES = 6L << 20;
    static final long HOLE_SIZE = SCRATCH_OFFSET + PROGRAM_BYTES + DATA_BYTES;
    /** struct rst_op: nr, arg[6], result, flags, ref */
    static final int OP_SIZE = 72;
    static final int PROGRAM_HEADER = 16;
    static final int MUST_SUCCEED = 1 << 8;

    private RestorerLayout() {
    }

    static long stackTop(long hole, int threadIndex) {
        return hole + STACKS_OFFSET + STACK_SIZE * (threadIndex + 1L) - 64;
    }
}
