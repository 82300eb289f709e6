// `lab.engine::Linear`, an ONNX Runtime custom operator: Y = X · Wᵀ (+ b) for W stored [out, in], the layer
// every decoded token spends most of its time in. Why not ORT's Gemm: for one row of X, MLAS runs its M=1
// SGEMM kernels, which streamed GPT-2 small's weights at 24–31 GB/s on this 2-core VM where a plain read of
// the same bytes (memchr) ran at ~55 GB/s; decoding reads every weight once per token, so that gap was the
// gap to the memory-bandwidth bound. This kernel is a row-blocked dot product over contiguous rows, split
// between ORT's own intra-op threads (KernelContext_ParallelFor), so the session's threading and spinning
// settings still apply. Each output element is computed whole by one call, in a fixed order, so results do
// not depend on how rows are split between threads.
#include <string.h>

#include "ort.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* y[r] = w[r] · x (+ b[r]) for rows r0 ≤ r < r1 of w [.., k], one row x. */
typedef void Rows(const float *x, const float *w, const float *b, float *y, size_t k, size_t r0, size_t r1);

static void rows_scalar(const float *x, const float *w, const float *b, float *y, size_t k, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; r++) {
    const float *row = w + r * k;
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= k; i += 8)
      for (int j = 0; j < 8; j++) s[j] += row[i + j] * x[i + j];
    float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; i < k; i++) t += row[i] * x[i];
    y[r] = b ? t + b[r] : t;
  }
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void rows_avx512(const float *x, const float *w, const float *b, float *y,
                                                           size_t k, size_t r0, size_t r1) {
  const size_t full = k & ~(size_t)15;
  const __mmask16 tail = (__mmask16)((1u << (k - full)) - 1);
  size_t r = r0;
  /* Four rows at a time: four independent streams and accumulators, x loaded once for all four. */
  for (; r + 4 <= r1; r += 4) {
    const float *a = w + r * k, *c = a + k, *d = c + k, *e = d + k;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < full; i += 16) {
      __m512 xv = _mm512_loadu_ps(x + i);
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), xv, s0);
      s1 = _mm512_fmadd_ps(_mm512_loadu_ps(c + i), xv, s1);
      s2 = _mm512_fmadd_ps(_mm512_loadu_ps(d + i), xv, s2);
      s3 = _mm512_fmadd_ps(_mm512_loadu_ps(e + i), xv, s3);
    }
    if (tail) {
      __m512 xv = _mm512_maskz_loadu_ps(tail, x + full);
      s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a + full), xv, s0);
      s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, c + full), xv, s1);
      s2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, d + full), xv, s2);
      s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, e + full), xv, s3);
    }
    float t0 = _mm512_reduce_add_ps(s0), t1 = _mm512_reduce_add_ps(s1);
    float t2 = _mm512_reduce_add_ps(s2), t3 = _mm512_reduce_add_ps(s3);
    y[r] = b ? t0 + b[r] : t0;
    y[r + 1] = b ? t1 + b[r + 1] : t1;
    y[r + 2] = b ? t2 + b[r + 2] : t2;
    y[r + 3] = b ? t3 + b[r + 3] : t3;
  }
  for (; r < r1; r++) {
    const float *a = w + r * k;
    __m512 s = _mm512_setzero_ps();
    for (size_t i = 0; i < full; i += 16) s = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(x + i), s);
    if (tail) s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a + full), _mm512_maskz_loadu_ps(tail, x + full), s);
    float t = _mm512_reduce_add_ps(s);
    y[r] = b ? t + b[r] : t;
  }
}

__attribute__((target("avx2,fma"))) static float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static void rows_avx2(const float *x, const float *w, const float *b, float *y,
                                                          size_t k, size_t r0, size_t r1) {
  const size_t full = k & ~(size_t)7;
  for (size_t r = r0; r < r1; r++) {
    const float *a = w + r * k;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= full; i += 16) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i), s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(x + i + 8), s1);
    }
    for (; i < full; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i), s0);
    float t = hsum256(_mm256_add_ps(s0, s1));
    for (; i < k; i++) t += a[i] * x[i];
    y[r] = b ? t + b[r] : t;
  }
}
#endif

/* The kernel in use: set by LabLinearSelect, the widest the CPU has unless asked otherwise. */
static Rows *rows_fn;

/*
 * Rows of W per task: ~64 KiB of weights. ORT's threads take tasks as they finish, so a thread the VM
 * deschedules leaves little behind. GPT-2 small decoding, interleaved runs of 128 tokens: 16, 64, 256 KiB
 * and one half per thread were within noise of each other (75–84 tok/s); 64 KiB keeps tasks many enough
 * to balance the narrowest layer (768 rows: 12 tasks).
 */
#define TASK_BYTES 65536

static int cpu_has(const char *kernel) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (strcmp(kernel, "avx512") == 0) return __builtin_cpu_supports("avx512f");
  if (strcmp(kernel, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return strcmp(kernel, "scalar") == 0;
}

/*
 * Runs the kernel named `want` ("avx512", "avx2", "scalar") from now on, or the widest this CPU has where
 * `want` is NULL or more than it has; returns the kernel's name. Runs in progress must be finished (tests
 * compare the kernels one after another).
 */
const char *LabLinearSelect(const char *want) {
  static const char *const order[] = {"avx512", "avx2", "scalar"};
  int from = 0;
  if (want)
    for (int i = 0; i < 3; i++)
      if (strcmp(want, order[i]) == 0) from = i;
  for (int i = from; i < 3; i++) {
    if (!cpu_has(order[i])) continue;
#if defined(__x86_64__)
    rows_fn = i == 0 ? rows_avx512 : i == 1 ? rows_avx2 : rows_scalar;
#else
    rows_fn = rows_scalar;
#endif
    return order[i];
  }
  rows_fn = rows_scalar;
  return "scalar";
}

/* Which kernel runs now (the engine reports it). */
const char *LabLinearKernel(void) {
  if (!rows_fn) LabLinearSelect(NULL);
#if defined(__x86_64__)
  if (rows_fn == rows_avx512) return "avx512";
  if (rows_fn == rows_avx2) return "avx2";
#endif
  return "scalar";
}

typedef struct Job {
  const float *x, *w, *b;
  float *y;
  size_t m, n, k, rows; /* rows of W per task */
} Job;

static void task(void *data, size_t index) {
  const Job *j = data;
  size_t r0 = index * j->rows, r1 = r0 + j->rows < j->n ? r0 + j->rows : j->n;
  for (size_t i = 0; i < j->m; i++) rows_fn(j->x + i * j->k, j->w, j->b, j->y + i * j->n, j->k, r0, r1);
}

static OrtStatus *compute(void *kernel, OrtKernelContext *ctx) {
  Api api = kernel;
  const OrtValue *xv, *wv, *bv;
  OrtStatus *st = lab_input(api, ctx, 0, &xv);
  if (!st) st = lab_input(api, ctx, 1, &wv);
  if (!st) st = lab_input(api, ctx, 2, &bv);
  if (st) return st;
  float *x, *w, *b = NULL, *y;
  int64_t xd[MAX_RANK], wd[MAX_RANK], bd[MAX_RANK];
  int xr = lab_tensor(api, xv, (void **)&x, xd, &st);
  if (xr < 0) return st;
  int wr = lab_tensor(api, wv, (void **)&w, wd, &st);
  if (wr < 0) return st;
  if (xr < 1 || wr != 2 || xd[xr - 1] != wd[1])
    return lab_fail(api, ORT_INVALID_ARGUMENT, "lab.engine::Linear: X [..., K] and W [N, K] expected");
  if (bv) {
    int br = lab_tensor(api, bv, (void **)&b, bd, &st);
    if (br < 0) return st;
    if (br != 1 || bd[0] != wd[0]) return lab_fail(api, ORT_INVALID_ARGUMENT, "lab.engine::Linear: bias [N] expected");
  }
  int64_t yd[MAX_RANK];
  size_t m = 1;
  for (int i = 0; i < xr - 1; i++) m *= (size_t)(yd[i] = xd[i]);
  yd[xr - 1] = wd[0];
  st = lab_output(api, ctx, 0, yd, (size_t)xr, (void **)&y);
  if (st) return st;
  Job job = {x, w, b, y, m, (size_t)wd[0], (size_t)wd[1], 0};
  if (m == 0 || job.n == 0) return NULL;
  job.rows = (TASK_BYTES / (job.k * sizeof(float)) + 3) & ~(size_t)3;
  if (!job.rows) job.rows = 4;
  return lab_parallel(api, ctx, task, (job.n + job.rows - 1) / job.rows, &job);
}

static void compute_v1(void *kernel, OrtKernelContext *ctx) {
  OrtStatus *st = compute(kernel, ctx);
  if (st) lab_release_status(kernel, st);
}
static void *create_kernel(const Op *op, Api api, const OrtKernelInfo *info) { return (void)op, (void)info, (void *)api; }
static OrtStatus *create_kernel_v2(const Op *op, Api api, const OrtKernelInfo *info, void **out) {
  *out = create_kernel(op, api, info);
  return NULL;
}
static void destroy_kernel(void *kernel) { (void)kernel; }
static const char *op_name(const Op *op) { return (void)op, "Linear"; }
static int float_type(const Op *op, size_t i) { return (void)op, (void)i, ELEM_FLOAT; }
static size_t three(const Op *op) { return (void)op, 3; }
static size_t one(const Op *op) { return (void)op, 1; }
static int input_kind(const Op *op, size_t i) { return (void)op, i == 2 ? INPUT_OPTIONAL : INPUT_REQUIRED; }

const Op lab_linear_op = {
    LAB_OP_COMMON,
    .CreateKernel = create_kernel,
    .GetName = op_name,
    .GetInputType = float_type,
    .GetInputTypeCount = three,
    .GetOutputType = float_type,
    .GetOutputTypeCount = one,
    .KernelCompute = compute_v1,
    .KernelDestroy = destroy_kernel,
    .GetInputCharacteristic = input_kind,
    .CreateKernelV2 = create_kernel_v2,
    .KernelComputeV2 = compute,
};

