/* An LD_PRELOAD shim for the tests: clone(2) with CLONE_PIDFD fails with
 * EINVAL, as on kernels before 5.2, so procloop's own spawn must fall back
 * to std's fork path. Other clones go through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif

int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    void *ptid = va_arg(ap, void *);
    void *tls = va_arg(ap, void *);
    void *ctid = va_arg(ap, void *);
    va_end(ap);
    if (flags & CLONE_PIDFD) {
        errno = EINVAL;
        return -1;
    }
    static int (*real)(int (*)(void *), void *, int, void *, ...);
    if (!real) real = (int (*)(int (*)(void *), void *, int, void *, ...))dlsym(RTLD_NEXT, "clone");
    return real(fn, stack, flags, arg, ptid, tls, ctid);
}
