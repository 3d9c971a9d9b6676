/*
 * c_loop.c -- a C baseline for the nested Lookahead (MLA) simulator, written to be fast.
 *
 * Simulates R independent replicates of n-layer nested Lookahead on the diagonal quadratic
 *
 *     f(x) = 1/2 sum_i h_i (x_i - xstar_i)^2,
 *     G(x) = h * (x - xstar) + sigma * z / sqrt(d),   z ~ N(0, I),
 *
 * for T top-level iterations of K = k_1 * ... * k_n fast steps each, and records f(phi_n) and
 * ||grad f(phi_n)||^2 after every top-level iteration.  It is the hand-written reference that the
 * numba engine is timed against; benchmarks/_baselines.py is its Python driver.
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
 * How it is made fast (what a C programmer who wants this loop to win would do):
 *   - SIMD lanes across replicates: replicates are processed in groups of LANES (8 doubles, one
 *     AVX-512 register); every array of a group is stored [level][coordinate][lane], so each
 *     coordinate of each level is one aligned vector and every inner loop runs over lanes with
 *     no horizontal work.  A short last group runs padding lanes that are not recorded.
 *   - One xoshiro256+ generator per replicate (Blackman & Vigna 2018), its four state words held
 *     lane-wise, so the generator itself is vectorised.  State seeded by splitmix64 started at
 *     (seed << 32) ^ replicate, as the earlier scalar baseline did.
 *   - Box-Muller with both normals of each pair used (coordinates 2p and 2p + 1; for odd d the
 *     spare normal of the last pair is discarded), through branch-free inline log, sin and cos
 *     (fdlibm's polynomials, within about 1 ulp) that the compiler vectorises over the lanes:
 *         z0 = sqrt(-2 log u1) cos(theta),  z1 = sqrt(-2 log u1) sin(theta),
 *     u1 in (0, 1] from 53 bits of one word; theta = q pi/2 + (v - 1/2) pi/2 from a second word,
 *     q its top 2 bits (a quadrant) and v in [0, 1) its next 53 bits, so that sin and cos are
 *     evaluated on [-pi/4, pi/4] only and the quadrant is a swap and two sign flips.
 *   - The normals are consumed as they are made (no buffer), fused into the SGD update.
 *   - -O3 -march=native -fno-math-errno (so sqrt is one instruction), OpenMP over groups.
 *
 * Parallelism: `#pragma omp parallel for` over groups of LANES replicates; the thread count from
 * OMP_NUM_THREADS.  Each replicate's stream is its own, so results do not depend on it.
 *
 * Build:  gcc -O3 -march=native -fno-math-errno -fopenmp c_loop.c -o c_loop -lm
 * Usage:  c_loop D R T LR SIGMA LAYERS [SEED [RECORDS_PATH]]
 *     LAYERS  "k1:a1,k2:a2,..." innermost first, or "sgd" for no layer.
 *     SEED    non-negative integer, default 0.
 *     RECORDS_PATH  if given, the records are written there as raw little-endian float64:
 *             f[R][T] followed by gradnorm2[R][T].
 * Output (stdout), three lines:
 *     elapsed_s=<seconds of the simulation loop only, CLOCK_MONOTONIC>
 *     cpu_s=<CPU seconds of the loop summed over threads, CLOCK_PROCESS_CPUTIME_ID>
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
#define LANES 8
#define ALIGN 64
#define INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------- random numbers */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* xoshiro256+ state of LANES replicates, word w of lane l at s[w][l]. */
typedef struct { uint64_t s[4][LANES]; } __attribute__((aligned(ALIGN))) xoshiro_lanes;

INLINE uint64_t xoshiro_next(uint64_t *s0, uint64_t *s1, uint64_t *s2, uint64_t *s3)
{
    const uint64_t result = *s0 + *s3;
    const uint64_t t = *s1 << 17;
    *s2 ^= *s0;
    *s3 ^= *s1;
    *s1 ^= *s2;
    *s0 ^= *s3;
    *s2 ^= t;
    *s3 = (*s3 << 45) | (*s3 >> 19);
    return result;
}

INLINE double bits_to_double(uint64_t b) { double x; memcpy(&x, &b, sizeof x); return x; }
INLINE uint64_t double_to_bits(double x) { uint64_t b; memcpy(&b, &x, sizeof b); return b; }

/* log(u) for u in [2^-53, 1], branch-free (fdlibm e_log.c's reduction and polynomial). */
INLINE double log_unit(double u)
{
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                 Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                 Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    uint64_t b = double_to_bits(u);
    /* u = 2^k m with m in [sqrt(2)/2, sqrt(2)): shift the mantissa so the split is at sqrt 2 */
    b += 0x3ff0000000000000ULL - 0x3fe6a09e00000000ULL;
    const int64_t k = (int64_t)(b >> 52) - 0x3ff;
    b = (b & 0x000fffffffffffffULL) + 0x3fe6a09e00000000ULL;
    const double f = bits_to_double(b) - 1.0;
    const double hfsq = 0.5 * f * f;
    const double s = f / (2.0 + f);
    const double z = s * s, w = z * z;
    const double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    const double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    const double dk = (double)k;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + (t1 + t2)) + dk * ln2_lo)) - f);
}

/* sin and cos of r in [-pi/4, pi/4] (fdlibm k_sin.c, k_cos.c polynomials). */
INLINE void sincos_small(double r, double *sn, double *cs)
{
    const double S1 = -1.66666666666666324348e-01, S2 = 8.33333333332248946124e-03,
                 S3 = -1.98412698298579493134e-04, S4 = 2.75573137070700676789e-06,
                 S5 = -2.50507602534068634195e-08, S6 = 1.58969099521155010221e-10;
    const double C1 = 4.16666666666666019037e-02, C2 = -1.38888888888741095749e-03,
                 C3 = 2.48015872894767294178e-05, C4 = -2.75573143513906633035e-07,
                 C5 = 2.08757232129817482790e-09, C6 = -1.13596475577881948265e-11;
    const double z = r * r;
    *sn = r + r * z * (S1 + z * (S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)))));
    const double hz = 0.5 * z;
    const double w = 1.0 - hz;
    *cs = w + (((1.0 - w) - hz) + z * z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6))))));
}

/* Box-Muller from two 64-bit words: (z0, z1) independent N(0, 1). */
INLINE void box_muller(uint64_t a, uint64_t b, double *z0, double *z1)
{
    const double u = (double)((a >> 11) + 1) * 0x1.0p-53;           /* (0, 1] */
    const double radius = sqrt(-2.0 * log_unit(u));
    const uint64_t q = b >> 62;                                        /* quadrant */
    const double v = (double)((b >> 9) & ((1ULL << 53) - 1)) * 0x1.0p-53;  /* [0, 1) */
    const double r = (v - 0.5) * 1.57079632679489661923;              /* [-pi/4, pi/4) */
    double sn, cs;
    sincos_small(r, &sn, &cs);
    /* angle q pi/2 + r: quadrant 1 and 3 swap sin and cos; flip cos in 1, 2 and sin in 2, 3 */
    const double c = (q & 1) ? sn : cs;
    const double s = (q & 1) ? cs : sn;
    const uint64_t flip_c = ((q + 1) & 2) << 62, flip_s = (q & 2) << 62;
    *z0 = radius * bits_to_double(double_to_bits(c) ^ flip_c);
    *z1 = radius * bits_to_double(double_to_bits(s) ^ flip_s);
}

/* ---------------------------------------------------------------- the simulation */

/* One oracle call and SGD step on the fast weights of a group: x -= lr (h (x - xs) + s z). */
static void fast_step(double *restrict x, const double *restrict h, const double *restrict xs,
                      int d, double lr, double s, xoshiro_lanes *restrict g)
{
    uint64_t *restrict s0 = g->s[0], *restrict s1 = g->s[1], *restrict s2 = g->s[2],
             *restrict s3 = g->s[3];
    int c = 0;
    for (; c + 1 < d; c += 2) {
        double *restrict x0 = x + (size_t)c * LANES, *restrict x1 = x0 + LANES;
        const double h0 = h[c], h1 = h[c + 1], xs0 = xs[c], xs1 = xs[c + 1];
        #pragma omp simd aligned(x0, x1, s0, s1, s2, s3 : ALIGN)
        for (int l = 0; l < LANES; l++) {
            uint64_t a0 = s0[l], a1 = s1[l], a2 = s2[l], a3 = s3[l];
            const uint64_t wa = xoshiro_next(&a0, &a1, &a2, &a3);
            const uint64_t wb = xoshiro_next(&a0, &a1, &a2, &a3);
            s0[l] = a0; s1[l] = a1; s2[l] = a2; s3[l] = a3;
            double z0, z1;
            box_muller(wa, wb, &z0, &z1);
            x0[l] -= lr * (h0 * (x0[l] - xs0) + s * z0);
            x1[l] -= lr * (h1 * (x1[l] - xs1) + s * z1);
        }
    }
    if (c < d) {
        double *restrict x0 = x + (size_t)c * LANES;
        const double h0 = h[c], xs0 = xs[c];
        #pragma omp simd aligned(x0, s0, s1, s2, s3 : ALIGN)
        for (int l = 0; l < LANES; l++) {
            uint64_t a0 = s0[l], a1 = s1[l], a2 = s2[l], a3 = s3[l];
            const uint64_t wa = xoshiro_next(&a0, &a1, &a2, &a3);
            const uint64_t wb = xoshiro_next(&a0, &a1, &a2, &a3);
            s0[l] = a0; s1[l] = a1; s2[l] = a2; s3[l] = a3;
            double z0, z1;
            box_muller(wa, wb, &z0, &z1);
            x0[l] -= lr * (h0 * (x0[l] - xs0) + s * z0);
        }
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
    const long groups = (R + LANES - 1) / LANES;
    const size_t group_size = (size_t)(n + 1) * d * LANES;  /* doubles of one group's levels */
    long K = 1;
    for (int i = 0; i < n; i++) K *= ks[i];

    double *h = malloc(sizeof(double) * d);
    double *xs = malloc(sizeof(double) * d);
    double *levels = aligned_alloc(ALIGN, sizeof(double) * group_size * groups);
    xoshiro_lanes *gens = aligned_alloc(ALIGN, sizeof(xoshiro_lanes) * groups);
    double *rec_f = malloc(sizeof(double) * (size_t)R * T);
    double *rec_g = malloc(sizeof(double) * (size_t)R * T);
    if (!h || !xs || !levels || !gens || !rec_f || !rec_g) {
        fprintf(stderr, "c_loop: out of memory\n");
        return 1;
    }
    for (int i = 0; i < d; i++) {
        h[i] = d == 1 ? 1.0 : pow(10.0, -2.0 + 2.0 * i / (d - 1.0));
        xs[i] = 1.0;
    }
    const double s = sigma / sqrt((double)d);

    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);

    #pragma omp parallel for schedule(static)
    for (long grp = 0; grp < groups; grp++) {
        double *lv = levels + (size_t)grp * group_size;  /* phi_i[c][l] at lv[(i d + c) LANES + l] */
        double *x = lv;
        const double *slow = lv + (size_t)n * d * LANES;
        xoshiro_lanes *g = gens + grp;
        for (int l = 0; l < LANES; l++) {
            uint64_t sm = (seed << 32) ^ (uint64_t)(grp * LANES + l);
            for (int w = 0; w < 4; w++) g->s[w][l] = splitmix64(&sm);
        }
        memset(lv, 0, sizeof(double) * group_size);  /* x0 = 0, first touch by this thread */
        long count[MAX_LAYERS] = {0};                 /* completed cycles of each level */

        for (long t = 0; t < T; t++) {
            for (long j = 0; j < K; j++) {
                fast_step(x, h, xs, d, lr, s, g);
                int top = 0;
                while (top < n && ++count[top] == ks[top]) {
                    count[top] = 0;
                    double *restrict above = lv + (size_t)(top + 1) * d * LANES;
                    const double *restrict below = lv + (size_t)top * d * LANES;
                    const double a = alphas[top];
                    #pragma omp simd aligned(above, below : ALIGN)
                    for (size_t m = 0; m < (size_t)d * LANES; m++) above[m] += a * (below[m] - above[m]);
                    top++;
                }
                for (int i = 0; i < top; i++)
                    memcpy(lv + (size_t)i * d * LANES, lv + (size_t)top * d * LANES,
                           sizeof(double) * d * LANES);
            }
            double fv[LANES] __attribute__((aligned(ALIGN))) = {0};
            double g2[LANES] __attribute__((aligned(ALIGN))) = {0};
            for (int c = 0; c < d; c++) {
                const double hc = h[c], xc = xs[c];
                #pragma omp simd aligned(fv, g2 : ALIGN)
                for (int l = 0; l < LANES; l++) {
                    const double e = slow[(size_t)c * LANES + l] - xc;
                    const double gc = hc * e;
                    fv[l] += gc * e;
                    g2[l] += gc * gc;
                }
            }
            for (int l = 0; l < LANES; l++) {
                const long r = grp * LANES + l;
                if (r < R) {
                    rec_f[(size_t)r * T + t] = 0.5 * fv[l];
                    rec_g[(size_t)r * T + t] = g2[l];
                }
            }
        }
    }

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double elapsed = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    const double cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);

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
    printf("elapsed_s=%.9f\ncpu_s=%.9f\nchecksum=%.17g\n", elapsed, cpu, checksum);
    free(h); free(xs); free(levels); free(gens); free(rec_f); free(rec_g);
    return 0;
}
