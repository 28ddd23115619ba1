// The thread pool: created once (lazily), the calling thread plus nthreads-1 workers. Workers spin for a
// short while after each job (consecutive kernels then start without a wake-up) and then sleep on a
// condition variable. Only one caller uses the pool at a time; a concurrent caller (another JS worker
// thread) runs its job inline instead of waiting.
//
// Each thread owns a contiguous range of the tasks (see task_range) and claims them one at a time, then
// claims what is left of the others' ranges; the caller returns as soon as every task has finished: a
// worker that the OS has not scheduled yet (a loaded machine) costs nothing, the caller simply runs its
// share. A late worker must then never read the fields of a newer job, which the generation
// protocol below guarantees (odd while the caller rewrites the job, even once it is published; a worker
// registers in `active` before re-checking the generation, and the caller rewrites only when none is).
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adaptlm.h"

#if ADAPTLM_X86
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* How long an idle worker spins before it sleeps. */
#define SPIN_NANOSECONDS 200000L

#define MAX_THREADS 256

typedef struct {
  int nthreads; /* including the caller */
  pthread_t *threads;
  atomic_uint generation; /* even: a job is published (or none yet); odd: the caller is writing one */
  atomic_int done_tasks;
  atomic_int active; /* workers that may be reading the current job */
  atomic_int sleepers;
  atomic_int stop;
  pool_task_fn fn;
  void *ctx;
  pthread_mutex_t mutex;
  pthread_cond_t wake;
} pool_t;

static pool_t pool;

/* Each thread owns a contiguous range of the tasks and runs it in order, then takes what is left of the
   others' ranges (from their fronts). Kernels split their rows the same way, so a thread mostly reads the
   rows its own part of the previous kernel wrote, in its own core's cache. With one shared counter a
   spinning worker could claim task 0 before the caller did, and the two threads then swapped halves from
   one kernel to the next (tiny training step, 2 threads: B/A 0.97). One counter per range, each on its
   own cache line. */
typedef struct {
  atomic_int next;
  int end;
  char pad[64 - sizeof(atomic_int) - sizeof(int)];
} task_range;
static task_range ranges[MAX_THREADS];
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void run_tasks(int thread) {
  int done = 0;
  const int n = pool.nthreads;
  for (int r = 0; r < n; r++) {
    task_range *range = &ranges[(thread + r) % n];
    for (;;) {
      int t = atomic_fetch_add_explicit(&range->next, 1, memory_order_relaxed);
      if (t >= range->end) break;
      pool.fn(pool.ctx, thread, t);
      done++;
    }
  }
  if (done > 0) atomic_fetch_add_explicit(&pool.done_tasks, done, memory_order_acq_rel);
}

/* A new job is there when the generation moved on from the one last seen and is even. */
static int job_ready(unsigned g, unsigned seen) { return g != seen && (g & 1u) == 0; }

static void *worker_main(void *arg) {
  int thread = (int)(intptr_t)arg;
  unsigned seen = 0;
  for (;;) {
    unsigned g = atomic_load_explicit(&pool.generation, memory_order_acquire);
    if (!job_ready(g, seen)) {
      long deadline = now_ns() + SPIN_NANOSECONDS;
      int spins = 0;
      while (!job_ready(g = atomic_load_explicit(&pool.generation, memory_order_acquire), seen)) {
        cpu_relax();
        if ((++spins & 255) == 0 && now_ns() > deadline) break;
      }
      if (!job_ready(g, seen)) {
        pthread_mutex_lock(&pool.mutex);
        atomic_fetch_add(&pool.sleepers, 1);
        while (!job_ready(g = atomic_load(&pool.generation), seen)) pthread_cond_wait(&pool.wake, &pool.mutex);
        atomic_fetch_sub(&pool.sleepers, 1);
        pthread_mutex_unlock(&pool.mutex);
      }
    }
    seen = g;
    if (atomic_load(&pool.stop)) return NULL;
    atomic_fetch_add(&pool.active, 1);
    /* Still the job we woke for: the caller cannot rewrite it until we leave `active`. */
    if (atomic_load(&pool.generation) == g) run_tasks(thread);
    atomic_fetch_sub(&pool.active, 1);
  }
}

static int default_threads(void) {
  const char *env = getenv("ADAPTLM_THREADS");
  if (env && *env) {
    int n = atoi(env);
    if (n >= 1) return n > MAX_THREADS ? MAX_THREADS : n;
  }
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n >= 1 ? (int)(n > MAX_THREADS ? MAX_THREADS : n) : 1;
}

static void start_workers(int n) {
  pool.nthreads = n;
  atomic_store(&pool.generation, 0);
  atomic_store(&pool.stop, 0);
  atomic_store(&pool.sleepers, 0);
  atomic_store(&pool.active, 0);
  pool.threads = n > 1 ? calloc((size_t)n - 1, sizeof(pthread_t)) : NULL;
  for (int i = 1; i < n; i++) {
    if (pthread_create(&pool.threads[i - 1], NULL, worker_main, (void *)(intptr_t)i) != 0) {
      pool.nthreads = i; /* could not start more: run with what we have */
      break;
    }
  }
}

static void stop_workers(void) {
  atomic_store(&pool.stop, 1);
  pthread_mutex_lock(&pool.mutex);
  atomic_fetch_add(&pool.generation, 2);
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.mutex);
  for (int i = 1; i < pool.nthreads; i++) pthread_join(pool.threads[i - 1], NULL);
  free(pool.threads);
  pool.threads = NULL;
}

static void pool_init(void) {
  pthread_mutex_init(&pool.mutex, NULL);
  pthread_cond_init(&pool.wake, NULL);
  start_workers(default_threads());
}

int pool_threads(void) {
  pthread_once(&pool_once, pool_init);
  return pool.nthreads;
}

int pool_max_threads(void) { return pool_threads(); }

void pool_set_threads(int n) {
  pthread_once(&pool_once, pool_init);
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  pthread_mutex_lock(&run_lock);
  if (n != pool.nthreads) {
    stop_workers();
    start_workers(n);
  }
  pthread_mutex_unlock(&run_lock);
}

void pool_run(pool_task_fn fn, void *ctx, int ntasks) {
  pthread_once(&pool_once, pool_init);
  if (ntasks <= 0) return;
  if (pool.nthreads == 1 || ntasks == 1 || pthread_mutex_trylock(&run_lock) != 0) {
    for (int t = 0; t < ntasks; t++) fn(ctx, 0, t);
    return;
  }
  /* Close the previous job to late workers, and wait out any still reading it. */
  atomic_fetch_add(&pool.generation, 1);
  for (int spins = 0; atomic_load(&pool.active) != 0; spins++) {
    if (spins < 4096) cpu_relax();
    else sched_yield();
  }
  pool.fn = fn;
  pool.ctx = ctx;
  for (int r = 0; r < pool.nthreads; r++) {
    ranges[r].end = (int)((long)ntasks * (r + 1) / pool.nthreads);
    atomic_store_explicit(&ranges[r].next, (int)((long)ntasks * r / pool.nthreads), memory_order_relaxed);
  }
  atomic_store(&pool.done_tasks, 0);
  atomic_fetch_add(&pool.generation, 1);
  if (atomic_load(&pool.sleepers) > 0) {
    pthread_mutex_lock(&pool.mutex);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mutex);
  }
  run_tasks(0);
  /* Wait for the tasks workers claimed (none may be claimed, if no worker got a core in time). On an
     oversubscribed machine a worker may be descheduled mid-task: after a short spin, yield the core to it. */
  for (int spins = 0; atomic_load_explicit(&pool.done_tasks, memory_order_acquire) < ntasks; spins++) {
    if (spins < 4096) cpu_relax();
    else sched_yield();
  }
  pthread_mutex_unlock(&run_lock);
}

typedef struct {
  range_fn body;
  void *ctx;
  long n, chunk;
} range_job;

static void range_task(void *ctx, int thread, int task) {
  (void)thread;
  range_job *job = ctx;
  long start = (long)task * job->chunk;
  long end = start + job->chunk < job->n ? start + job->chunk : job->n;
  if (start < end) job->body(job->ctx, start, end);
}

void parallel_for(long n, long serial_below, range_fn body, void *ctx) {
  if (n <= 0) return;
  int threads = pool_threads();
  if (threads == 1 || n < serial_below || n < 2) {
    body(ctx, 0, n);
    return;
  }
  long tasks = threads;
  if (tasks > n) tasks = n;
  long chunk = (n + tasks - 1) / tasks;
  /* element ranges: start chunks on 64-byte boundaries (no false sharing, aligned vectors); row ranges
     (small n) stay evenly split */
  if (chunk >= 256) chunk = (chunk + 15) & ~15L;
  tasks = (n + chunk - 1) / chunk;
  range_job job = {body, ctx, n, chunk};
  pool_run(range_task, &job, (int)tasks);
}

/* ---------- per-OS-thread scratch ---------- */
#define SCRATCH_SLOTS 5
static _Thread_local float *scratch_ptr[SCRATCH_SLOTS];
static _Thread_local size_t scratch_cap[SCRATCH_SLOTS];

float *thread_scratch(int thread, int slot, size_t floats) {
  (void)thread;
  if (scratch_cap[slot] < floats) {
    free(scratch_ptr[slot]);
    size_t cap = floats < 1024 ? 1024 : floats;
    size_t bytes = (cap * sizeof(float) + 63) & ~(size_t)63;
    scratch_ptr[slot] = aligned_alloc(64, bytes);
    scratch_cap[slot] = scratch_ptr[slot] ? cap : 0;
  }
  return scratch_ptr[slot];
}
