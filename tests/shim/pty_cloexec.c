/* An LD_PRELOAD shim for the tests: after each pseudo-terminal is opened
 * (openpty or posix_openpt), it checks that the new fds are close-on-exec
 * already. One that is not is open to another thread's fork until it gets
 * the flag: then the shim appends a line to the file PROCLOOP_SHIM_REPORT
 * names. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void check(int fd, const char *what) {
    if (fd < 0 || (fcntl(fd, F_GETFD) & FD_CLOEXEC)) return;
    const char *report = getenv("PROCLOOP_SHIM_REPORT");
    FILE *f = report ? fopen(report, "a") : NULL;
    if (f) {
        fprintf(f, "%s: fd %d opened without close-on-exec\n", what, fd);
        fclose(f);
    }
}

int openpty(int *master, int *slave, char *name, const struct termios *t, const struct winsize *w) {
    static int (*real)(int *, int *, char *, const struct termios *, const struct winsize *);
    if (!real) real = dlsym(RTLD_NEXT, "openpty");
    int res = real(master, slave, name, t, w);
    if (res == 0) {
        check(*master, "openpty master");
        check(*slave, "openpty slave");
    }
    return res;
}

int posix_openpt(int flags) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "posix_openpt");
    int fd = real(flags);
    check(fd, "posix_openpt");
    return fd;
}
