/* The machine's own stalls: one thread reads the clock in a loop for
 * argv[1] seconds (default 10) and counts the gaps between two reads
 * longer than 1, 2, 4 and 8 ms. Nothing else of ours runs, so a gap is
 * time the CPU was taken away (the hypervisor, another tenant, the
 * kernel), which lands on a turn of the frame bench as it would on this
 * loop. Run it on an otherwise idle machine, beside the frame numbers.
 *
 *   gcc -O2 -o /tmp/hiccup bench/hiccup.c
 *   /tmp/hiccup 10; taskset -c 0 /tmp/hiccup 10
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 10;
    const double limits_ms[] = {1, 2, 4, 8};
    int gaps[4] = {0};
    double start = now_us(), last = start, worst = 0;
    for (double t = start; t - start < seconds * 1e6; last = t) {
        t = now_us();
        double gap = t - last;
        for (int k = 0; k < 4; k++) gaps[k] += gap > limits_ms[k] * 1000;
        if (gap > worst) worst = gap;
    }
    printf("%.0f s of clock reads: gaps over 1 / 2 / 4 / 8 ms: %d / %d / %d / %d; worst %.1f ms\n",
           seconds, gaps[0], gaps[1], gaps[2], gaps[3], worst / 1000);
    return 0;
}
