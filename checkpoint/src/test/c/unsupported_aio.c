/*
 * unsupported_aio: an AIO context (io_setup): its ring is a mapping ("[aio]") whose address is the context's id, with
 * the kernel's state of requests behind it, which a copy cannot be given: the checkpoint must be refused naming it,
 * the process untouched. After go the context still takes and completes a request.
 */
#include "harness.h"

#include <linux/aio_abi.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    aio_context_t ctx = 0;
    SETUP(syscall(SYS_io_setup, 8, &ctx) == 0, "io_setup: %s", strerror(errno));
    char path[4096];
    h_path(path, sizeof path, "data");
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    SETUP(fd >= 0, "open %s: %s", path, strerror(errno));

    h_ready();
    h_wait_go();

    static char buf[] = "aio";
    struct iocb cb = {.aio_fildes = (unsigned)fd, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_buf = (uint64_t)(uintptr_t)buf,
                      .aio_nbytes = 3, .aio_data = 42};
    struct iocb *list[1] = {&cb};
    CHECK(syscall(SYS_io_submit, ctx, 1, list) == 1, "io_submit: %s", strerror(errno));
    struct io_event ev;
    struct timespec wait = {10, 0};
    CHECK(syscall(SYS_io_getevents, ctx, 1, 1, &ev, &wait) == 1 && ev.data == 42 && ev.res == 3, "the request did not complete");
    return h_finish();
}
