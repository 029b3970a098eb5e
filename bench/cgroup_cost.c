/* What a cgroup per child costs the harness, alone: N leaves made and
 * removed (a tournament of N engines makes and removes N), and reads of a
 * leaf's cpu.stat (two a move under CPU charging) against a process CPU
 * clock. Needs root and cgroup v2 at /sys/fs/cgroup/unified (or CG).
 *
 *   gcc -O2 -o /tmp/cgroup_cost bench/cgroup_cost.c && /tmp/cgroup_cost 128
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double cpu_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 128;
    const char *root = getenv("CG") ? getenv("CG") : "/sys/fs/cgroup/unified";
    char dir[256], path[512], buf[1024];
    snprintf(dir, sizeof dir, "%s/cgroup_cost_%d", root, getpid());
    if (mkdir(dir, 0755)) { perror(dir); return 1; }
    double a = cpu_us();
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/c%d", dir, i);
        if (mkdir(path, 0755)) { perror(path); return 1; }
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/c%d", dir, i);
        rmdir(path);
    }
    double b = cpu_us();
    printf("mkdir + rmdir: %.1f us of CPU a leaf\n", (b - a) / n);
    snprintf(path, sizeof path, "%s/cpu.stat", dir);
    int fd = open(path, O_RDONLY);
    int reads = 20000;
    a = cpu_us();
    for (int i = 0; i < reads; i++) pread(fd, buf, sizeof buf, 0);
    b = cpu_us();
    struct timespec t;
    clockid_t clock;
    clock_getcpuclockid(getppid(), &clock);
    double c = cpu_us();
    for (int i = 0; i < reads; i++) clock_gettime(clock, &t);
    double d = cpu_us();
    printf("cpu.stat pread: %.2f us; a process CPU clock: %.2f us\n", (b - a) / reads, (d - c) / reads);
    close(fd);
    rmdir(dir);
    return 0;
}
