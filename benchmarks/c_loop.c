/*
 * c_loop.c -- plain C baseline for the nested Lookahead (MLA) simulator.
 *
 * Simulates R independent replicates of n-layer nested Lookahead on the diagonal quadratic
 *
 *     f(x) = 1/2 sum_i h_i (x_i - xstar_i)^2,
 *     G(x) = h * (x - xstar) + sigma * z / sqrt(d),   z ~ N(0, I),
 *
 * for T top-level iterations of K = k_1 * ... * k_n fast steps each, and records f(phi_n) and
 * ||grad f(phi_n)||^2 after every top-level iteration.  It is the hand-written reference that the
 * numba engine is timed against; see benchmarks/_baselines.py for the Python driver.
 *
 * The problem is fixed (mirrored by _baselines.c_loop_problem):
 *     h_i     = 10^(-2 + 2 i / (d - 1))   (log-spaced in [0.01, 1]; h = 1 when d = 1),
 *     xstar_i = 1,   x0_i = 0.
 *
 * Algorithm, per replicate (levels phi_0 = fast weights, phi_1..phi_n, all start at x0):
 *     for t in 1..T:
 *         for j in 1..K:
 *             phi_0 -= lr * G(phi_0)
 *             top = 0
 *             for i in 1..n:
 *                 if j % (k_1 * ... * k_i) != 0: break
 *                 phi_i += alpha_i * (phi_{i-1} - phi_i);  top = i
 *             phi_0, ..., phi_{top-1} = phi_top
 *         record f(phi_n), ||h * (phi_n - xstar)||^2
 *
 * Random numbers: one xoshiro256+ generator per replicate, its state filled by four outputs of
 * splitmix64 started at (seed << 32) ^ replicate.  Uniforms in (0, 1] from the top 53 bits;
 * normals by Box-Muller, both normals of each pair used (coordinates 2m and 2m + 1); for odd d
 * the spare normal of the last pair is discarded.  Replicates never share state, so results do
 * not depend on the thread count.
 *
 * Parallelism: `#pragma omp parallel for` over replicates; thread count from OMP_NUM_THREADS.
 *
 * Build:  gcc -O3 -march=native -fopenmp c_loop.c -o c_loop -lm
 * Usage:  c_loop D R T LR SIGMA LAYERS [SEED [RECORDS_PATH]]
 *     LAYERS  "k1:a1,k2:a2,..." innermost first, or "sgd" for no layer.
 *     SEED    non-negative integer, default 0.
 *     RECORDS_PATH  if given, the records are written there as raw little-endian float64:
 *             f[R][T] followed by gradnorm2[R][T].
 * Output (stdout), two lines:
 *     elapsed_s=<seconds of the simulation loop only, CLOCK_MONOTONIC>
 *     checksum=<sum of all records>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LAYERS 32
#define TWO_PI 6.283185307179586476925286766559

/* ---------------------------------------------------------------- random numbers */

static inline uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

typedef struct { uint64_t s[4]; } xoshiro256p;

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t xoshiro_next(xoshiro256p *g)
{
    uint64_t *s = g->s;
    const uint64_t result = s[0] + s[3];
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void xoshiro_seed(xoshiro256p *g, uint64_t seed, uint64_t replicate)
{
    uint64_t sm = (seed << 32) ^ replicate;
    for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&sm);
}

/* Uniform in (0, 1], so that log(u) is finite. */
static inline double uniform(xoshiro256p *g)
{
    return ((double)(xoshiro_next(g) >> 11) + 1.0) * 0x1.0p-53;
}

/* ---------------------------------------------------------------- the simulation */

/* One oracle call and SGD step on the fast weights: x -= lr * (h (x - xs) + s z). */
static inline void fast_step(double *restrict x, const double *restrict h,
                             const double *restrict xs, int d, double lr, double s,
                             xoshiro256p *g)
{
    int i = 0;
    for (; i + 1 < d; i += 2) {
        const double radius = sqrt(-2.0 * log(uniform(g)));
        const double angle = TWO_PI * uniform(g);
        const double z0 = radius * cos(angle), z1 = radius * sin(angle);
        const double g0 = h[i] * (x[i] - xs[i]) + s * z0;
        const double g1 = h[i + 1] * (x[i + 1] - xs[i + 1]) + s * z1;
        x[i] -= lr * g0;
        x[i + 1] -= lr * g1;
    }
    if (i < d) {
        const double radius = sqrt(-2.0 * log(uniform(g)));
        const double angle = TWO_PI * uniform(g);
        const double g0 = h[i] * (x[i] - xs[i]) + s * (radius * cos(angle));
        x[i] -= lr * g0;
    }
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s D R T LR SIGMA LAYERS [SEED [RECORDS_PATH]]\n"
                    "  LAYERS like 5:0.5,5:0.5 (innermost first) or sgd\n", prog);
    exit(2);
}

static long parse_long(const char *text, const char *name, long min)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < min) {
        fprintf(stderr, "c_loop: %s must be an integer >= %ld, got '%s'\n", name, min, text);
        exit(2);
    }
    return v;
}

static double parse_double(const char *text, const char *name)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || end == text || !isfinite(v)) {
        fprintf(stderr, "c_loop: %s must be a finite number, got '%s'\n", name, text);
        exit(2);
    }
    return v;
}

/* Parse "k1:a1,k2:a2" into ks/alphas; returns n.  "sgd" (or "") is no layer. */
static int parse_layers(const char *text, long *ks, double *alphas)
{
    if (text[0] == '\0' || strcmp(text, "sgd") == 0) return 0;
    int n = 0;
    const char *p = text;
    while (*p) {
        if (n == MAX_LAYERS) { fprintf(stderr, "c_loop: at most %d layers\n", MAX_LAYERS); exit(2); }
        char *end;
        long k = strtol(p, &end, 10);
        if (end == p || *end != ':' || k < 1) goto bad;
        p = end + 1;
        double a = strtod(p, &end);
        if (end == p || !(a > 0.0 && a <= 1.0) || (*end != ',' && *end != '\0')) goto bad;
        ks[n] = k;
        alphas[n] = a;
        n++;
        p = (*end == ',') ? end + 1 : end;
    }
    return n;
bad:
    fprintf(stderr, "c_loop: bad LAYERS '%s' (want k:alpha,... with k >= 1, 0 < alpha <= 1)\n", text);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 7 || argc > 9) usage(argv[0]);
    const int d = (int)parse_long(argv[1], "D", 1);
    const long R = parse_long(argv[2], "R", 1);
    const long T = parse_long(argv[3], "T", 1);
    const double lr = parse_double(argv[4], "LR");
    const double sigma = parse_double(argv[5], "SIGMA");
    long ks[MAX_LAYERS];
    double alphas[MAX_LAYERS];
    const int n = parse_layers(argv[6], ks, alphas);
    const uint64_t seed = argc > 7 ? (uint64_t)parse_long(argv[7], "SEED", 0) : 0;
    const char *records_path = argc > 8 ? argv[8] : NULL;

    /* block[i] = k_1 * ... * k_i (block[0] = 1); K = block[n]. */
    long block[MAX_LAYERS + 1];
    block[0] = 1;
    for (int i = 1; i <= n; i++) block[i] = block[i - 1] * ks[i - 1];
    const long K = block[n];

    double *h = malloc(sizeof(double) * d);
    double *xs = malloc(sizeof(double) * d);
    double *levels = malloc(sizeof(double) * (size_t)R * (n + 1) * d);
    double *rec_f = malloc(sizeof(double) * (size_t)R * T);
    double *rec_g = malloc(sizeof(double) * (size_t)R * T);
    if (!h || !xs || !levels || !rec_f || !rec_g) { fprintf(stderr, "c_loop: out of memory\n"); return 1; }
    for (int i = 0; i < d; i++) {
        h[i] = d == 1 ? 1.0 : pow(10.0, -2.0 + 2.0 * i / (d - 1.0));
        xs[i] = 1.0;
    }
    const double s = sigma / sqrt((double)d);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    #pragma omp parallel for schedule(static)
    for (long r = 0; r < R; r++) {
        double *lv = levels + (size_t)r * (n + 1) * d;  /* phi_l is lv + l * d */
        double *x = lv;                                 /* phi_0, fast weights */
        const double *slow = lv + (size_t)n * d;        /* phi_n */
        xoshiro256p g;
        xoshiro_seed(&g, seed, (uint64_t)r);
        for (size_t m = 0; m < (size_t)(n + 1) * d; m++) lv[m] = 0.0;  /* x0 = 0 */

        for (long t = 0; t < T; t++) {
            for (long j = 1; j <= K; j++) {
                fast_step(x, h, xs, d, lr, s, &g);
                int top = 0;
                for (int i = 1; i <= n; i++) {
                    if (j % block[i] != 0) break;
                    double *restrict phi = lv + (size_t)i * d;
                    const double *restrict below = lv + (size_t)(i - 1) * d;
                    const double a = alphas[i - 1];
                    for (int c = 0; c < d; c++) phi[c] += a * (below[c] - phi[c]);
                    top = i;
                }
                for (int l = 0; l < top; l++)
                    memcpy(lv + (size_t)l * d, lv + (size_t)top * d, sizeof(double) * d);
            }
            double fv = 0.0, g2 = 0.0;
            for (int c = 0; c < d; c++) {
                const double e = slow[c] - xs[c];
                const double gc = h[c] * e;
                fv += gc * e;
                g2 += gc * gc;
            }
            rec_f[(size_t)r * T + t] = 0.5 * fv;
            rec_g[(size_t)r * T + t] = g2;
        }
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double elapsed = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);

    double checksum = 0.0;
    for (size_t m = 0; m < (size_t)R * T; m++) checksum += rec_f[m] + rec_g[m];

    if (records_path) {
        FILE *fp = fopen(records_path, "wb");
        if (!fp || fwrite(rec_f, sizeof(double), (size_t)R * T, fp) != (size_t)R * T
                || fwrite(rec_g, sizeof(double), (size_t)R * T, fp) != (size_t)R * T
                || fclose(fp) != 0) {
            fprintf(stderr, "c_loop: cannot write %s\n", records_path);
            return 1;
        }
    }
    printf("elapsed_s=%.9f\nchecksum=%.17g\n", elapsed, checksum);
    free(h); free(xs); free(levels); free(rec_f); free(rec_g);
    return 0;
}
