/* mallocvm: runs a list of malloc operations read from a file, one per line, with no stdio
 * (so nothing but the listed calls touches malloc). Lines:
 *   malloc V SIZE | calloc V N SIZE | realloc V SIZE | free V | touch V | mallopt P VALUE |
 *   trim PAD | mark
 * V is a variable p0..p65535. madvise(NULL,0,MADV_NORMAL) marks start and end in strace. */
#include <stdlib.h>
#include <malloc.h>
#include <unistd.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <pthread.h>
#include <semaphore.h>
static char buf[1 << 24];
static void *v[65536];
static size_t sz[65536];
static const char *p;
/* Threads: "thread T" starts worker T (1..63), "in T" runs the next lines in it ("in 0": main),
 * "join T" ends and joins it. A worker runs one line at a time, handed over with semaphores. */
static pthread_t tid[64];
static sem_t go[64], done[64];
static const char *volatile line[64];
static int cur;
static void run(void);
static void *worker(void *a) {
    long t = (long) a;
    for (;;) {
        sem_wait(&go[t]);
        if (!line[t]) break;
        p = line[t]; run(); sem_post(&done[t]);
    }
    return 0;
}
static void skip(void) { while (*p == ' ') p++; }
static unsigned long num(void) { skip(); unsigned long n = 0; if (*p == 'p') p++; while (*p >= '0' && *p <= '9') n = n * 10 + (*p++ - '0'); return n; }
static int word(const char *w) { skip(); size_t n = strlen(w); if (strncmp(p, w, n) == 0 && (p[n] == ' ' || p[n] == '\n' || p[n] == 0)) { p += n; return 1; } return 0; }
int main(int argc, char **argv) {
    int fd = open(argv[1], O_RDONLY); long n = 0, r;
    while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
    buf[n] = 0; close(fd);
    madvise(NULL, 0, MADV_NORMAL);
    for (const char *q = buf; *q; ) {
        p = q;
        if (word("thread")) { long t = num(); sem_init(&go[t], 0, 0); sem_init(&done[t], 0, 0); pthread_create(&tid[t], 0, worker, (void *) t); }
        else if (word("in")) { cur = num(); }
        else if (word("join")) { long t = num(); line[t] = 0; sem_post(&go[t]); pthread_join(tid[t], 0); }
        else if (cur) { line[cur] = q; sem_post(&go[cur]); sem_wait(&done[cur]); }
        else { p = q; run(); }
        while (*q && *q != '\n') q++;
        if (*q) q++;
    }
    madvise(NULL, 0, MADV_NORMAL);
    return 0;
}

static void run(void) {
    {
        if (word("malloc")) { unsigned long i = num(), s = num(); v[i] = malloc(s); sz[i] = s; }
        else if (word("calloc")) { unsigned long i = num(), c = num(), s = num(); v[i] = calloc(c, s); sz[i] = c * s; }
        else if (word("memalign")) { unsigned long i = num(), a = num(), s = num(); v[i] = memalign(a, s); sz[i] = s; }
        else if (word("aligned_alloc")) { unsigned long i = num(), a = num(), s = num(); v[i] = aligned_alloc(a, s); sz[i] = s; }
        else if (word("posix_memalign")) { unsigned long i = num(), a = num(), s = num(); if (posix_memalign(&v[i], a, s)) v[i] = 0; sz[i] = s; }
        else if (word("valloc")) { unsigned long i = num(), s = num(); v[i] = valloc(s); sz[i] = s; }
        else if (word("pvalloc")) { unsigned long i = num(), s = num(); v[i] = pvalloc(s); sz[i] = s; }
        else if (word("realloc")) { unsigned long i = num(), s = num(); v[i] = realloc(v[i], s); sz[i] = s; }
        else if (word("free")) { unsigned long i = num(); free(v[i]); }
        else if (word("touch")) { unsigned long i = num(); for (size_t o = 0; o < sz[i]; o += 4096) ((volatile char *)v[i])[o] = 1; }
        else if (word("mallopt")) { unsigned long a = num(), b = num(); mallopt(-(int)a, (int)b); }
        else if (word("trim")) { unsigned long a = num(); malloc_trim(a); }
        else if (word("maps")) { char m[65536]; int f = open("/proc/self/maps", O_RDONLY); long k, t = 0; while ((k = read(f, m + t, sizeof m - t)) > 0) t += k; close(f); write(1, m, t); }
        else if (word("mallinfo")) { struct mallinfo2 m = mallinfo2(); char o[512]; int k = 0; size_t f[9] = {m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.fsmblks, m.uordblks, m.fordblks, m.keepcost};
            memcpy(o, "mallinfo", 8); k = 8; for (int j = 0; j < 9; j++) { char d[24]; int q = 0; size_t x = f[j]; do { d[q++] = '0' + x % 10; x /= 10; } while (x); o[k++] = ' '; while (q) o[k++] = d[--q]; }
            unsigned long b = (unsigned long) sbrk(0); memcpy(o + k, " brk=0x", 7); k += 7; char h[24]; int q = 0; do { h[q++] = "0123456789abcdef"[b % 16]; b /= 16; } while (b); while (q) o[k++] = h[--q]; o[k++] = '\n'; write(1, o, k); }
        else if (word("mark")) { madvise(NULL, 0, MADV_NORMAL); }
    }
}
