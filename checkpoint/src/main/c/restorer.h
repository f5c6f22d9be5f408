/*
 * Layout shared by the restorer (C) and the engine (Java: io.pmig.checkpoint.restore.RestorerLayout).
 * Change both together.
 *
 * The hole is one anonymous mapping at an address the engine chose outside every mapping of
 * the image. It holds, in order: the restorer's own code and data (relocated there), the
 * control block, one stack per thread, and scratch memory the engine fills with syscall programs.
 */
#ifndef PMIG_RESTORER_H
#define PMIG_RESTORER_H

#define RST_BLOB_MAX        0x10000UL   /* room for the relocated restorer itself */
#define RST_CTL_OFFSET      0x10000UL   /* control block, one page */
#define RST_STACKS_OFFSET   0x11000UL
#define RST_STACK_SIZE      0x4000UL    /* per thread; programs run no deep code */
#define RST_MAX_THREADS     256
#define RST_SCRATCH_OFFSET  (RST_STACKS_OFFSET + RST_STACK_SIZE * RST_MAX_THREADS)
#define RST_MAGIC           0x31545352474d5050UL /* "PPMGRST1" little-endian */

/* One syscall of a program. flags bit k (k < 6): arg[k] is replaced by ops[ref].result. */
struct rst_op {
    long nr;
    long arg[6];
    long result;
    unsigned int flags;
    int ref;
};

#define RST_OP_ARG_FROM_REF(k) (1u << (k))
#define RST_OP_MUST_SUCCEED    (1u << 8)

struct rst_program {
    unsigned long count;
    long failed_at;          /* index of the first op that must succeed and failed, or -1 */
    struct rst_op ops[];
};

struct rst_control {
    unsigned long magic;
    unsigned long run_program;  /* entry: rdi = struct rst_program *, ends in int3 */
    unsigned long syscall_stub; /* "syscall; int3": rax and args preset by the engine */
    unsigned long hole_start;
    unsigned long hole_size;
    unsigned long blob_size;
    long engine_pidfd;          /* a pidfd of the engine's process, for pidfd_getfd */
    unsigned long xcr0;         /* XSAVE features this CPU enables for user space */
};

#endif
