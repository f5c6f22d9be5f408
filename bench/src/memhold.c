/* Holds N MiB of written (non-zero, page-distinct) memory and sleeps: the benchmark's subject. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    size_t n = (size_t)atol(argc > 1 ? argv[1] : "10") << 20;
    unsigned char *p = malloc(n);
    if (!p) return 1;
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 7 + (i >> 12) + 1);
    for (;;) pause();
}
