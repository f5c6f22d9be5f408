/*
 * pmig-client --version: prints pmig's version (built in, PMIG_VERSION) without starting a JVM.
 *
 * pmig-client ARGS...: runs `pmig checkpoint` or `pmig restore` through the node's running pmigd, which runs the
 * command in its warm JVM (the control socket's "run-command" op), and prints what the command printed and exits
 * with its exit code. The launcher tries it first for these commands; it exits NOT_FORWARDED, having sent nothing
 * that runs anything, when the command is to run in a JVM of its own: another command, no daemon (or one that
 * does not run commands), a caller in other namespaces than the daemon's, or words it does not pass on (an @file,
 * bytes that are not ASCII), or settings of the caller's own (PMIG_IMAGE_KEY, PMIG_JAVA_OPTS).
 * The socket is $PMIG_DAEMON_SOCKET, else /run/pmig/pmigd.sock. A relative --dir is made absolute here: the
 * daemon's working directory is not the caller's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define NOT_FORWARDED 99
#define FAILED 1
#define DEFAULT_SOCKET "/run/pmig/pmigd.sock"

struct buffer {
    char *data;
    size_t length, capacity;
};

static void append(struct buffer *b, const char *s, size_t n)
{
    if (b->length + n + 1 > b->capacity) {
        size_t capacity = (b->length + n + 1) * 2;
        char *data = realloc(b->data, capacity);
        if (!data) {
            fprintf(stderr, "pmig: out of memory\n");
            exit(FAILED);
        }
        b->data = data;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, s, n);
    b->length += n;
    b->data[b->length] = '\0';
}

static void append_string(struct buffer *b, const char *s)
{
    append(b, s, strlen(s));
}

/* s as a JSON string; only printable ASCII reaches here (see forwardable) */
static void append_json(struct buffer *b, const char *s)
{
    append(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            append(b, "\\", 1);
        }
        append(b, s, 1);
    }
    append(b, "\"", 1);
}

static int forwardable(const char *word)
{
    if (word[0] == '@') {
        return 0; /* picocli would read an argument file in the daemon's working directory */
    }
    for (const unsigned char *c = (const unsigned char *)word; *c; c++) {
        if (*c < 0x20 || *c >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* A --dir value, made absolute against the caller's working directory. */
static void append_dir(struct buffer *request, const char *dir, const char *cwd)
{
    if (dir[0] == '/') {
        append_json(request, dir);
        return;
    }
    struct buffer absolute = {0};
    append_string(&absolute, cwd);
    append_string(&absolute, "/");
    append_string(&absolute, dir);
    append_json(request, absolute.data);
    free(absolute.data);
}

/* The JSON string value of "key": in the answer line, decoded into out (ASCII and \u escapes as UTF-8). */
static int string_field(const char *line, const char *key, struct buffer *out)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *p = strstr(line, pattern);
    if (!p) {
        return 0;
    }
    append(out, "", 0);
    for (p += strlen(pattern); *p && *p != '"'; p++) {
        if (*p != '\\') {
            append(out, p, 1);
            continue;
        }
        char c = *++p;
        const char *simple = strchr("\"\\/bfnrt", c);
        if (c && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            append(out, &decoded[simple - "\"\\/bfnrt"], 1);
        } else if (c == 'u' && p[1] && p[2] && p[3] && p[4]) {
            char hex[5] = {p[1], p[2], p[3], p[4], 0};
            unsigned code = (unsigned)strtoul(hex, NULL, 16);
            p += 4;
            if (code >= 0xd800 && code < 0xdc00 && p[1] == '\\' && p[2] == 'u') {
                char low[5] = {p[3], p[4], p[5], p[6], 0};
                code = 0x10000 + ((code - 0xd800) << 10) + ((unsigned)strtoul(low, NULL, 16) - 0xdc00);
                p += 6;
            }
            char utf8[4];
            size_t n;
            if (code < 0x80) {
                utf8[0] = (char)code, n = 1;
            } else if (code < 0x800) {
                utf8[0] = (char)(0xc0 | code >> 6), utf8[1] = (char)(0x80 | (code & 0x3f)), n = 2;
            } else if (code < 0x10000) {
                utf8[0] = (char)(0xe0 | code >> 12), utf8[1] = (char)(0x80 | ((code >> 6) & 0x3f));
                utf8[2] = (char)(0x80 | (code & 0x3f)), n = 3;
            } else {
                utf8[0] = (char)(0xf0 | code >> 18), utf8[1] = (char)(0x80 | ((code >> 12) & 0x3f));
                utf8[2] = (char)(0x80 | ((code >> 6) & 0x3f)), utf8[3] = (char)(0x80 | (code & 0x3f)), n = 4;
            }
            append(out, utf8, n);
        } else {
            return 0;
        }
    }
    return *p == '"';
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("pmig %s\n", PMIG_VERSION);
        return fflush(stdout) == 0 ? 0 : FAILED;
    }
    if (argc < 2 || (strcmp(argv[1], "checkpoint") != 0 && strcmp(argv[1], "restore") != 0) || getenv("PMIG_IMAGE_KEY") || getenv("PMIG_JAVA_OPTS")) {
        return NOT_FORWARDED;
    }
    for (int i = 1; i < argc; i++) {
        if (!forwardable(argv[i])) {
            return NOT_FORWARDED;
        }
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd) || !forwardable(cwd)) {
        return NOT_FORWARDED;
    }
    const char *path = getenv("PMIG_DAEMON_SOCKET");
    if (!path || !*path) {
        path = DEFAULT_SOCKET;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) {
        return NOT_FORWARDED;
    }
    strcpy(address.sun_path, path);

    struct buffer request = {0};
    append_string(&request, "{\"op\":\"run-command\",\"argv\":[");
    for (int i = 1; i < argc; i++) {
        if (i > 1) {
            append_string(&request, ",");
        }
        if (strncmp(argv[i], "--dir=", 6) == 0) {
            append_json(&request, "--dir");
            append_string(&request, ",");
            append_dir(&request, argv[i] + 6, cwd);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            append_json(&request, argv[i]);
            append_string(&request, ",");
            append_dir(&request, argv[++i], cwd);
        } else {
            append_json(&request, argv[i]);
        }
    }
    append_string(&request, "]}\n");

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        return NOT_FORWARDED;
    }
    for (size_t sent = 0; sent < request.length;) {
        ssize_t n = write(fd, request.data + sent, request.length - sent);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return NOT_FORWARDED; /* a daemon that takes no request runs nothing */
        }
        sent += (size_t)n;
    }
    /* the answer is the last line; progress lines before it are passed over */
    struct buffer answer = {0};
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        append(&answer, chunk, (size_t)n);
    }
    close(fd);
    while (answer.length > 0 && answer.data[answer.length - 1] == '\n') {
        answer.data[--answer.length] = '\0';
    }
    const char *line = answer.data ? strrchr(answer.data, '\n') : NULL;
    line = line ? line + 1 : answer.data;
    if (!line || !*line) {
        fprintf(stderr, "pmig: pmigd closed the control socket %s without an answer: see its log (journalctl -u pmigd)\n", path);
        return FAILED;
    }
    struct buffer error = {0};
    if (strstr(line, "\"ok\":false")) {
        /* nothing ran: an old daemon without the op, say */
        if (string_field(line, "error", &error) && strncmp(error.data, "pmigd has no op", 15) == 0) {
            return NOT_FORWARDED;
        }
        fprintf(stderr, "pmig: pmigd: %s\n", error.data ? error.data : line);
        return FAILED;
    }
    if (strstr(line, "\"handled\":false")) {
        return NOT_FORWARDED;
    }
    const char *code = strstr(line, "\"exitCode\":");
    struct buffer out = {0}, err = {0};
    if (!code || !string_field(line, "stdout", &out) || !string_field(line, "stderr", &err)) {
        fprintf(stderr, "pmig: pmigd's answer is not one this pmig reads (are pmig and pmigd the same version?): %s\n", line);
        return FAILED;
    }
    fwrite(out.data, 1, out.length, stdout);
    fflush(stdout);
    fwrite(err.data, 1, err.length, stderr);
    return atoi(code + strlen("\"exitCode\":"));
}
