/* Process entry and the engine's syscall stub. */
    .text
    .globl _start
_start:
    xor %ebp, %ebp
    mov %rsp, %rdi
    and $-16, %rsp
    call restorer_main
    mov %rax, %rdi
    mov $231, %eax          /* exit_group */
    syscall
    hlt

/* The engine presets rax and the argument registers, points rip here and continues. */
    .globl rst_syscall_stub
rst_syscall_stub:
    syscall
    int3
    .section .note.GNU-stack,"",@progbits
