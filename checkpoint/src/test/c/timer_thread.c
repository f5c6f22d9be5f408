/*
 * timer_thread: a POSIX timer with SIGEV_THREAD notification, which glibc implements as a timer
 * signalling a helper thread of its own (SIGEV_THREAD_ID), each expiry run in a new thread. The restore
 * must create the timer once that thread exists. After go the timer goes on firing.
 *
 * Its threads come and go with each expiry, so a test cannot compare its /proc view before and after.
 */
#include "harness.h"

#include <signal.h>

static volatile int calls;

static void on_timer(union sigval v)
{
    (void)v;
    __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    timer_t timer;
    struct sigevent sev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_timer};
    struct itimerspec every = {.it_interval = {0, 50000000L}, .it_value = {0, 50000000L}};
    SETUP(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0 && timer_settime(timer, 0, &every, NULL) == 0,
          "SIGEV_THREAD timer: %s", strerror(errno));
    while (__atomic_load_n(&calls, __ATOMIC_SEQ_CST) < 2) {
        h_sleep_ms(5);
    }

    h_ready();
    h_wait_go();

    int before = __atomic_load_n(&calls, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 2500 && __atomic_load_n(&calls, __ATOMIC_SEQ_CST) < before + 3; i++) {
        h_sleep_ms(2);
    }
    CHECK(__atomic_load_n(&calls, __ATOMIC_SEQ_CST) >= before + 3, "the SIGEV_THREAD timer stopped firing");
    return h_finish();
}
