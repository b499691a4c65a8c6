/* Measures the machine's float32 FMA peak in GFLOP/s on a given number of
 * threads, for `make bench` to compare GEMM-bound kernels against.
 *
 *     build/bench/fma_peak [threads]
 *
 * Each thread runs CHAINS independent chains of fused multiply-adds in
 * registers, enough to cover the FMA latency on every FMA port, so the loop
 * is bound by FMA throughput alone. The widest instruction set the CPU
 * supports (AVX-512, else AVX2 with FMA) is chosen at run time; both are
 * reported when both are available. fma.gflops counts each thread's own CPU
 * time, so other processes on the machine do not lower it; fma.wall_gflops
 * is the same run over wall-clock time. Output is one "key<TAB>value" line
 * per fact on stdout, as bench/bench.lua reads it. */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* 4-cycle FMA latency times 2 FMA ports needs 8 chains; 12 leaves margin
 * and still fits in 16 ymm registers beside the two constants. */
#define CHAINS 12
#define ITERATIONS 20000000L
#define TRIALS 5

/* acc = acc * 0.999999 + 1e-6 converges to 1, so no chain ever reaches a
 * denormal or infinity, either of which would slow the FMA units. */
#define MULTIPLIER 0.999999f
#define ADDEND 1e-6f

__attribute__((target("avx512f"))) static float chains_avx512(long iterations)
{
    __m512 acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm512_set1_ps((float)c);
    const __m512 m = _mm512_set1_ps(MULTIPLIER);
    const __m512 a = _mm512_set1_ps(ADDEND);
    for (long i = 0; i < iterations; i++) {
#pragma GCC unroll 16
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_fmadd_ps(acc[c], m, a);
    }
    __m512 total = acc[0];
    for (int c = 1; c < CHAINS; c++)
        total = _mm512_add_ps(total, acc[c]);
    return _mm512_reduce_add_ps(total);
}

__attribute__((target("avx2,fma"))) static float chains_avx2(long iterations)
{
    __m256 acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm256_set1_ps((float)c);
    const __m256 m = _mm256_set1_ps(MULTIPLIER);
    const __m256 a = _mm256_set1_ps(ADDEND);
    for (long i = 0; i < iterations; i++) {
#pragma GCC unroll 16
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm256_fmadd_ps(acc[c], m, a);
    }
    float lanes[8];
    __m256 total = acc[0];
    for (int c = 1; c < CHAINS; c++)
        total = _mm256_add_ps(total, acc[c]);
    _mm256_storeu_ps(lanes, total);
    float sum = 0;
    for (int i = 0; i < 8; i++)
        sum += lanes[i];
    return sum;
}

static double thread_cpu_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* The best of TRIALS runs of kernel on threads threads, in GFLOP/s, two
 * ways. wall divides by the wall-clock time of the whole run, so it drops
 * when other processes take cores. cpu adds up each thread's FLOPs per
 * second of its own CPU time, which is the peak of the machine whatever
 * else runs on it (unless the hypervisor steals time from the guest). */
typedef struct peak {
    double wall, cpu;
} peak;

static peak measure(float (*kernel)(long), int lanes, int threads)
{
    volatile float sink = 0;
    peak best = {0, 0};
    const double flops_per_thread = 2.0 * lanes * CHAINS * (double)ITERATIONS;

    for (int trial = 0; trial <= TRIALS; trial++) {
        double cpu = 0;
        double start = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : cpu)
        {
            double thread_start = thread_cpu_seconds();
            float r = kernel(ITERATIONS);
            cpu += flops_per_thread / (thread_cpu_seconds() - thread_start) * 1e-9;
#pragma omp atomic
            sink += r;
        }
        double wall = flops_per_thread * threads / (omp_get_wtime() - start) * 1e-9;

        /* Trial 0 warms the cores up to their vector frequency. */
        if (trial == 0)
            continue;
        if (wall > best.wall)
            best.wall = wall;
        if (cpu > best.cpu)
            best.cpu = cpu;
    }
    (void)sink;
    return best;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 1024) {
        fprintf(stderr, "fma_peak: thread count must be 1..1024, got '%s'\n", argv[1]);
        return 2;
    }

    __builtin_cpu_init();
    int has_avx512 = __builtin_cpu_supports("avx512f");
    int has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!has_avx2 && !has_avx512) {
        fprintf(stderr, "fma_peak: this CPU has neither AVX-512 nor AVX2 with FMA\n");
        return 1;
    }

    printf("fma.threads\t%d\n", threads);
    peak avx2 = {0, 0}, avx512 = {0, 0};
    if (has_avx2) {
        avx2 = measure(chains_avx2, 8, threads);
        printf("fma.avx2_gflops\t%.2f\n", avx2.cpu);
    }
    if (has_avx512) {
        avx512 = measure(chains_avx512, 16, threads);
        printf("fma.avx512_gflops\t%.2f\n", avx512.cpu);
    }
    peak best = avx512.cpu > avx2.cpu ? avx512 : avx2;
    printf("fma.isa\t%s\n", avx512.cpu > avx2.cpu ? "avx512" : "avx2");
    printf("fma.gflops\t%.2f\n", best.cpu);
    printf("fma.wall_gflops\t%.2f\n", best.wall);
    return 0;
}
