// Standalone check and timing of the GEMM without Node (used to validate the AVX-512 path on machines
// where Node is absent): cc -O3 -pthread native/selftest.c native/gemm.c native/pool.c -lm
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adaptlm.h"

void gemm_tune(int mc, int kc, int nc);

static int cpu_clock = 0; /* time single-thread runs in thread CPU time: robust to a busy machine */

static double now(void) {
  struct timespec ts;
  clock_gettime(cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float frand(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return ((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int check(int batch, int m, int n, int k, int ta, int tb, float alpha, float beta, int bcast) {
  unsigned seed = (unsigned)(m * 131 + n * 7 + k);
  long sa = bcast ? 0 : (long)m * k, sb = (long)k * n, sc = (long)m * n;
  long na = bcast ? (long)m * k : sa * batch;
  float *a = malloc(sizeof(float) * (na + 1)), *b = malloc(sizeof(float) * (sb * batch + 1));
  float *c = malloc(sizeof(float) * (sc * batch + 1));
  double *r = malloc(sizeof(double) * (sc * batch + 1));
  for (long i = 0; i < na; i++) a[i] = frand(&seed);
  for (long i = 0; i < sb * batch; i++) b[i] = frand(&seed);
  for (long i = 0; i < sc * batch; i++) c[i] = beta == 0 ? NAN : frand(&seed);
  for (int bi = 0; bi < batch; bi++)
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) {
        double acc = 0;
        for (int p = 0; p < k; p++) {
          double av = ta ? a[bi * sa + p * m + i] : a[bi * sa + i * k + p];
          double bv = tb ? b[bi * sb + j * k + p] : b[bi * sb + p * n + j];
          acc += av * bv;
        }
        double cv = c[bi * sc + i * n + j];
        r[bi * sc + i * n + j] = beta == 0 ? alpha * acc : alpha * acc + beta * cv;
      }
  gemm_args g = {batch, m, n, k, a, sa, ta, b, sb, tb, c, sc, alpha, beta};
  gemm_run(&g);
  double worst = 0;
  for (long i = 0; i < sc * batch; i++) {
    double e = fabs(c[i] - r[i]) / (1e-3 + sqrt((double)k) * 1e-6 * 8 + fabs(r[i]) * 1e-5);
    if (!(e <= worst)) worst = e;
  }
  free(a), free(b), free(c), free(r);
  if (!(worst <= 1.0)) {
    printf("FAIL isa=%s batch=%d m=%d n=%d k=%d ta=%d tb=%d alpha=%g beta=%g bcast=%d err=%g\n",
           adaptlm_isa_name(adaptlm_isa()), batch, m, n, k, ta, tb, alpha, beta, bcast, worst);
    return 1;
  }
  return 0;
}

static void bench(int m, int n, int k, int reps) {
  float *a = calloc((size_t)m * k, 4), *b = calloc((size_t)k * n, 4), *c = calloc((size_t)m * n, 4);
  for (long i = 0; i < (long)m * k; i++) a[i] = (i % 7) * 0.1f;
  for (long i = 0; i < (long)k * n; i++) b[i] = (i % 5) * 0.1f;
  gemm_args g = {1, m, n, k, a, 0, 0, b, 0, 0, c, 0, 1.0f, 0.0f};
  gemm_run(&g);
  double best = 1e9;
  for (int r = 0; r < reps; r++) {
    double t = now();
    gemm_run(&g);
    t = now() - t;
    if (t < best) best = t;
  }
  printf("isa=%s threads=%d %dx%dx%d: %.3f ms  %.1f GFLOP/s\n", adaptlm_isa_name(adaptlm_isa()), pool_threads(),
         m, n, k, best * 1e3, 2.0 * m * n * k / best * 1e-9);
  free(a), free(b), free(c);
}

int main(int argc, char **argv) {
  int fails = 0;
  int sizes[] = {1, 2, 7, 17, 64, 129};
  int best = adaptlm_best_isa();
  if (argc > 1 && strcmp(argv[1], "bench") == 0) {
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    pool_set_threads(threads);
    cpu_clock = threads == 1;
    if (argc > 5) gemm_tune(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    bench(64, 64, 64, 2000);
    bench(144, 768, 256, 200);
    bench(144, 64, 256, 2000);
    bench(144, 768, 768, 100);
    bench(512, 768, 256, 50);
    bench(512, 768, 768, 20);
    bench(512, 3072, 768, 10);
    return 0;
  }
  for (int isa = best; isa >= 0; isa--) {
    adaptlm_force_isa(isa);
    for (int t = 1; t <= 2; t++) {
      pool_set_threads(t);
      for (int mi = 0; mi < 6; mi++)
        for (int ni = 0; ni < 6; ni++)
          for (int ki = 0; ki < 6; ki++)
            for (int tr = 0; tr < 4; tr++)
              fails += check(1, sizes[mi], sizes[ni], sizes[ki], tr & 1, tr >> 1, 1.0f, 0.0f, 0);
      fails += check(3, 33, 47, 300, 0, 1, 0.5f, 0.25f, 0);
      fails += check(5, 40, 70, 19, 1, 0, -1.5f, 1.0f, 1);
      fails += check(2, 300, 530, 600, 0, 0, 1.0f, 0.0f, 0);
      fails += check(1, 700, 3100, 270, 1, 1, 2.0f, -1.0f, 0);
      fails += check(1, 17, 129, 0, 0, 0, 1.0f, 0.5f, 0);
    }
    printf("isa %s: %s\n", adaptlm_isa_name(isa), fails ? "FAILURES" : "ok");
  }
  return fails != 0;
}
