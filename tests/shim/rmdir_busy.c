/* An LD_PRELOAD shim for the tests: rmdir(2) of a procloop cgroup leaf
 * ("/procloop-...-N/child-M") fails with EBUSY on its first three tries in
 * the process, as when a task of the leaf is still on its way out. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

int rmdir(const char *path) {
    static int busy = 3;
    if (strstr(path, "/procloop-") && strstr(path, "/child-") && busy > 0) {
        busy--;
        errno = EBUSY;
        return -1;
    }
    static int (*real)(const char *);
    if (!real) real = (int (*)(const char *))dlsym(RTLD_NEXT, "rmdir");
    return real(path);
}
