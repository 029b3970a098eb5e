/* Which write to a pipe costs what in a round trip through cat: plain
 * write(2) against one other way (argv[1]: 1 writev, 2 pwritev2 with no
 * flag, 3 pwritev2 with RWF_NOSIGNAL, which procloop uses; 4 send(2) with
 * MSG_NOSIGNAL to a second cat whose stdin is a UNIX socket, as libuv gives
 * children, the other way to write without SIGPIPE), alternating in
 * blocks of 500 round trips in one process; prints the median and quartiles
 * over 200 blocks of the other way's time over write's.
 *
 *   gcc -O2 -o /tmp/pipe_write_ab bench/pipe_write_ab.c
 *   for m in 1 2 3 4; do taskset -c 0 /tmp/pipe_write_ab $m; done
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BLOCKS 200
#define ROUNDS 500
#define RWF_NOSIGNAL_FLAG 0x100

static const char LINE[] = "0123456789abcdefghijklmnopqrstu\n";
/* The cat written to with write(2) (or writev, pwritev2), and the one whose
 * stdin is a socket; the one a block uses. */
static int pipe_to_cat, pipe_from_cat, socket_to_cat, socket_from_cat;
static int to_cat, from_cat;

static ssize_t write_line(int way) {
    struct iovec iov = {(void *)LINE, 32};
    switch (way) {
    case 1: return writev(to_cat, &iov, 1);
    case 2: return pwritev2(to_cat, &iov, 1, -1, 0);
    case 3: return pwritev2(to_cat, &iov, 1, -1, RWF_NOSIGNAL_FLAG);
    case 4: return send(to_cat, LINE, 32, MSG_NOSIGNAL);
    default: return write(to_cat, LINE, 32);
    }
}

/* Nanoseconds for ROUNDS round trips written the `way` way. */
static double block(int way) {
    char buf[4096];
    struct timespec a, b;
    to_cat = way == 4 ? socket_to_cat : pipe_to_cat;
    from_cat = way == 4 ? socket_from_cat : pipe_from_cat;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < ROUNDS; i++) {
        if (write_line(way) != 32) abort();
        int got = 0;
        while (got < 32) {
            ssize_t r = read(from_cat, buf + got, sizeof buf - got);
            if (r <= 0) abort();
            got += r;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
}

static int by_value(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Starts cat reading `in` and writing `out`. */
static void start_cat(int in, int out) {
    if (fork() == 0) {
        dup2(in, 0);
        dup2(out, 1);
        execlp("cat", "cat", (char *)NULL);
        _exit(127);
    }
}

int main(int argc, char **argv) {
    int way = argc > 1 ? atoi(argv[1]) : 3;
    int in[2], out[2], socket_in[2], socket_out[2];
    signal(SIGPIPE, SIG_IGN);
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) abort();
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socket_in) || pipe2(socket_out, O_CLOEXEC)) abort();
    start_cat(in[0], out[1]);
    start_cat(socket_in[1], socket_out[1]);
    pipe_to_cat = in[1];
    pipe_from_cat = out[0];
    socket_to_cat = socket_in[0];
    socket_from_cat = socket_out[0];
    double ratio[BLOCKS];
    for (int k = 0; k < BLOCKS; k++) {
        double plain, other;
        if (k & 1) { other = block(way); plain = block(0); }
        else { plain = block(0); other = block(way); }
        ratio[k] = other / plain;
    }
    qsort(ratio, BLOCKS, sizeof ratio[0], by_value);
    printf("way %d / write: median %.4f (q1 %.4f, q3 %.4f)\n", way, ratio[BLOCKS / 2], ratio[BLOCKS / 4],
           ratio[3 * BLOCKS / 4]);
    close(pipe_to_cat);
    close(socket_to_cat);
    return 0;
}
