/* An LD_PRELOAD shim for the tests: pidfd_open(2) of any process but the
 * caller's own fails with EMFILE, as when another thread of the host took
 * the last fds between the spawn and the pidfd. (The caller's own pid is
 * let through, so procloop's probe still finds pidfds supported.) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

long syscall(long number, ...) {
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_pidfd_open && a[0] != (long)getpid()) {
        errno = EMFILE;
        return -1;
    }
    static long (*real)(long, ...);
    if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
