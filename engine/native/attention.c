// `lab.engine::Attention`: attention over the KV cache with the inputs, outputs and attributes of ORT's
// com.microsoft GroupQueryAttention as the decoding graph uses it (no rotary, softcap or window), for the
// graphs that decode one token at a time. Why not GroupQueryAttention there: between the Linear nodes of a
// GPT-2 small-shaped token graph it took 29 µs per layer at 16 cached positions and 57 µs at 128, this
// kernel 15 and 33 (engine/README.md). It appends the new key and value in place and runs each query head
// as one task on the session's intra-op threads, its first keys and values prefetched. Each head's output
// is computed whole by one task, in a fixed order, so results do not depend on how heads are split.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ort.h"

/* A row's attention (row_portable, row_avx512 below). */
typedef void Row(const float *q, const float *K, const float *V, size_t n, size_t d, float scale, float *p, float *y);

typedef struct Job {
  const float *q;        /* token t, head h at q + t·q_stride + h·d */
  size_t q_stride;
  float *keys, *values;  /* present [KV, cap, d] */
  float *out;            /* [T, H·d] */
  size_t tokens, heads, d, cap, group, past;
  float scale;
  float *scores; /* heads × (past + tokens) floats where a head's scores exceed the stack, else NULL */
  Row *row;
} Job;

/* Σ a[i]·b[i], i < n, summed in 16 fixed lanes (which the compiler vectorises). */
static float dot(const float *a, const float *b, size_t n) {
  float s[16] = {0};
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) s[j] += a[i + j] * b[i + j];
  for (int j = 0; j < 8; j++) s[j] += s[j + 8];
  float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; i++) t += a[i] * b[i];
  return t;
}

/* y[i] += p · v[i], i < n. */
static void axpy(float *y, float p, const float *v, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += p * v[i];
}

/* Scores on the stack up to this many positions; beyond, from the heap (allocated per run). */
#define STACK_POSITIONS 2048

/*
 * One query row against positions [0, n) of K and V [.., d]: y = softmax(q·Kᵀ·scale)·V, p the scores'
 * scratch. The portable version, for any head size and CPU; attention is a small part of a token, so
 * this baseline build's vectors do.
 */
static void row_portable(const float *q, const float *K, const float *V, size_t n, size_t d, float scale, float *p,
                         float *y) {
  float max = -INFINITY;
  for (size_t s = 0; s < n; s++) {
    p[s] = dot(q, K + s * d, d) * scale;
    if (p[s] > max) max = p[s];
  }
  float sum = 0;
  for (size_t s = 0; s < n; s++) sum += p[s] = expf(p[s] - max);
  const float inv = 1.0f / sum;
  memset(y, 0, d * sizeof(float));
  for (size_t s = 0; s < n; s++) axpy(y, p[s] * inv, V + s * d, d);
}

#if defined(__x86_64__)
#include <immintrin.h>

/* Head sizes the AVX-512 row takes: multiples of 16 up to this (GPT-2 and Llama use 64 or 128). */
#define WIDE_MAX_D 256

/*
 * The same row with AVX-512, for d a multiple of 16 up to WIDE_MAX_D: scores four positions at a time
 * (independent sums, one reduction each), the output kept in registers across positions, and the next rows
 * prefetched, since the keys and values come cold from memory (the weights streamed since evicted them).
 * Sums run in the same lanes as dot's, so both versions agree to rounding.
 */
__attribute__((target("avx512f"))) static void row_avx512(const float *q, const float *K, const float *V, size_t n,
                                                          size_t d, float scale, float *p, float *y) {
  const size_t c = d / 16;
  __m512 qv[WIDE_MAX_D / 16];
  for (size_t i = 0; i < c; i++) qv[i] = _mm512_loadu_ps(q + 16 * i);
  float max = -INFINITY;
  size_t s = 0;
  for (; s + 4 <= n; s += 4) {
    const float *k0 = K + s * d;
    _mm_prefetch((const char *)(k0 + 8 * d), _MM_HINT_T0);
    _mm_prefetch((const char *)(k0 + 10 * d), _MM_HINT_T0);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < c; i++) {
      a0 = _mm512_fmadd_ps(qv[i], _mm512_loadu_ps(k0 + 16 * i), a0);
      a1 = _mm512_fmadd_ps(qv[i], _mm512_loadu_ps(k0 + d + 16 * i), a1);
      a2 = _mm512_fmadd_ps(qv[i], _mm512_loadu_ps(k0 + 2 * d + 16 * i), a2);
      a3 = _mm512_fmadd_ps(qv[i], _mm512_loadu_ps(k0 + 3 * d + 16 * i), a3);
    }
    p[s] = _mm512_reduce_add_ps(a0) * scale;
    p[s + 1] = _mm512_reduce_add_ps(a1) * scale;
    p[s + 2] = _mm512_reduce_add_ps(a2) * scale;
    p[s + 3] = _mm512_reduce_add_ps(a3) * scale;
    for (int j = 0; j < 4; j++)
      if (p[s + j] > max) max = p[s + j];
  }
  for (; s < n; s++) {
    __m512 a = _mm512_setzero_ps();
    for (size_t i = 0; i < c; i++) a = _mm512_fmadd_ps(qv[i], _mm512_loadu_ps(K + s * d + 16 * i), a);
    p[s] = _mm512_reduce_add_ps(a) * scale;
    if (p[s] > max) max = p[s];
  }
  float sum = 0;
  for (s = 0; s < n; s++) sum += p[s] = expf(p[s] - max);
  const float inv = 1.0f / sum;
  __m512 acc[WIDE_MAX_D / 16];
  for (size_t i = 0; i < c; i++) acc[i] = _mm512_setzero_ps();
  for (s = 0; s < n; s++) {
    const float *v = V + s * d;
    _mm_prefetch((const char *)(v + 8 * d), _MM_HINT_T0);
    const __m512 w = _mm512_set1_ps(p[s] * inv);
    for (size_t i = 0; i < c; i++) acc[i] = _mm512_fmadd_ps(w, _mm512_loadu_ps(v + 16 * i), acc[i]);
  }
  for (size_t i = 0; i < c; i++) _mm512_storeu_ps(y + 16 * i, acc[i]);
}
#endif

/* Bytes of each head's keys and values prefetched before its rows (the hardware prefetcher takes over). */
#define PREFETCH_BYTES 16384

/* The row for head size d, on a CPU with AVX-512 or not. */
static Row *row_for(size_t d, int avx512) {
#if defined(__x86_64__)
  if (avx512 && d % 16 == 0 && d <= WIDE_MAX_D) return row_avx512;
#endif
  (void)avx512;
  return row_portable;
}

/* Query head `h`, every token of the run: softmax(q·kᵀ·scale)·V over the positions the token may see. */
static void head(void *data, size_t h) {
  const Job *j = data;
  const size_t d = j->d, kv = h / j->group;
  const float *K = j->keys + kv * j->cap * d, *V = j->values + kv * j->cap * d;
  float stack[STACK_POSITIONS];
  const size_t most = j->past + j->tokens;
  float *p = j->scores ? j->scores + h * most : stack;
#if defined(__x86_64__)
  /* Start every line of the head's first keys and values on its way at once: they come cold from memory,
     and a row waiting on each miss in turn would pay the latency once per line. */
  const size_t ahead = most * d * sizeof(float) < PREFETCH_BYTES ? most * d * sizeof(float) : PREFETCH_BYTES;
  for (size_t b = 0; b < ahead; b += 64) {
    _mm_prefetch((const char *)K + b, _MM_HINT_T0);
    _mm_prefetch((const char *)V + b, _MM_HINT_T0);
  }
#endif
  for (size_t t = 0; t < j->tokens; t++) {
    float *y = j->out + t * j->heads * d + h * d;
    /* causal: the cached positions, and this run's up to t */
    j->row(j->q + t * j->q_stride + h * d, K, V, j->past + t + 1, d, j->scale, p, y);
  }
}

typedef struct Kernel {
  Api api;
  int64_t heads, kv_heads;
  int avx512; /* whether this CPU has AVX-512 (asked once, at the kernel's creation) */
} Kernel;

static OrtStatus *bad(Api api, const char *msg) { return lab_fail(api, ORT_INVALID_ARGUMENT, msg); }

static OrtStatus *compute(void *kernel, OrtKernelContext *ctx) {
  const Kernel *k = kernel;
  Api api = k->api;
  const OrtValue *in[7];
  OrtStatus *st = NULL;
  for (size_t i = 0; i < 7 && !st; i++) st = lab_input(api, ctx, i, &in[i]);
  if (st) return st;
  if (!in[0] || !in[3] || !in[4] || !in[5] || !in[6] || !in[1] != !in[2])
    return bad(api, "lab.engine::Attention: query, past key and value, seqlens_k and total_sequence_length expected");
  float *q, *kn = NULL, *vn = NULL, *pk, *pv;
  int32_t *seqlens, *total;
  int64_t qd[MAX_RANK], kd[MAX_RANK], vd[MAX_RANK], pd[MAX_RANK], pvd[MAX_RANK], sd[MAX_RANK], td[MAX_RANK];
  int qr = lab_tensor(api, in[0], (void **)&q, qd, &st);
  if (qr < 0) return st;
  int kr = 0, vr = 0;
  if (in[1] && ((kr = lab_tensor(api, in[1], (void **)&kn, kd, &st)) < 0 ||
                (vr = lab_tensor(api, in[2], (void **)&vn, vd, &st)) < 0))
    return st;
  int pr = lab_tensor(api, in[3], (void **)&pk, pd, &st);
  if (pr < 0) return st;
  int pvr = lab_tensor(api, in[4], (void **)&pv, pvd, &st);
  if (pvr < 0) return st;
  int sr = lab_tensor(api, in[5], (void **)&seqlens, sd, &st);
  if (sr < 0) return st;
  if (lab_tensor(api, in[6], (void **)&total, td, &st) < 0) return st;

  const size_t H = (size_t)k->heads, KV = (size_t)k->kv_heads;
  /* Query [1, T, ·] as GroupQueryAttention takes it, or [T, ·] (the decoding graph's rows, no reshapes). */
  if ((qr != 2 && qr != 3) || (qr == 3 && qd[0] != 1) || pr != 4 || pvr != 4 || pd[0] != 1 || pd[1] != k->kv_heads)
    return bad(api, "lab.engine::Attention: query [1, T, ·] or [T, ·] and past [1, kv_num_heads, capacity, head "
                    "size] expected");
  for (int i = 0; i < 4; i++)
    if (pvd[i] != pd[i]) return bad(api, "lab.engine::Attention: past key and value differ in shape");
  const int64_t *qs = qd + (qr - 2), *ks = kd + (qr - 2), *vs = vd + (qr - 2);
  const size_t T = (size_t)qs[0], cap = (size_t)pd[2], d = (size_t)pd[3];
  const size_t width = in[1] ? H * d : (H + 2 * KV) * d;
  if ((size_t)qs[1] != width)
    return bad(api, "lab.engine::Attention: query width is not (heads [+ 2·kv heads]) × head size");
  if (in[1] && (kr != qr || vr != qr || ks[1] != (int64_t)(KV * d) || vs[1] != (int64_t)(KV * d) || ks[0] != qs[0] ||
                vs[0] != qs[0]))
    return bad(api, "lab.engine::Attention: key and value [(1,) T, kv heads × head size] expected, as the query");
  if (sr != 1 || sd[0] != 1) return bad(api, "lab.engine::Attention: one sequence (seqlens_k [1]) expected");
  const int64_t end = (int64_t)seqlens[0] + 1; /* positions after this run */
  if (end < (int64_t)T || end != (int64_t)total[0] || end > (int64_t)cap)
    return bad(api, "lab.engine::Attention: seqlens_k + 1 must equal total_sequence_length, within the past buffer");
  const size_t past = (size_t)end - T;

  /* Outputs: [(1,) T, H·d] as the query; present key and value as big as the past buffers, which a caller
     binds to the same memory (appending in place). Where ORT allocated them instead, the cached positions
     are copied first. */
  float *out, *keys, *values;
  int64_t od[3] = {1, (int64_t)T, (int64_t)(H * d)};
  if ((st = lab_output(api, ctx, 0, od + (3 - qr), (size_t)qr, (void **)&out))) return st;
  if ((st = lab_output(api, ctx, 1, pd, 4, (void **)&keys))) return st;
  if ((st = lab_output(api, ctx, 2, pd, 4, (void **)&values))) return st;
  for (size_t h = 0; h < KV; h++) {
    const size_t at = h * cap * d;
    if (keys != pk) memcpy(keys + at, pk + at, past * d * sizeof(float));
    if (values != pv) memcpy(values + at, pv + at, past * d * sizeof(float));
    for (size_t t = 0; t < T; t++) {
      const float *kt = in[1] ? kn + t * KV * d + h * d : q + t * width + (H + h) * d;
      const float *vt = in[1] ? vn + t * KV * d + h * d : q + t * width + (H + KV + h) * d;
      memcpy(keys + at + (past + t) * d, kt, d * sizeof(float));
      memcpy(values + at + (past + t) * d, vt, d * sizeof(float));
    }
  }
  if (T == 0) return NULL;
  Job job = {q,    width, keys, values, out, T, H, d, cap, H / KV, past, 1.0f / sqrtf((float)d),
             NULL, row_for(d, k->avx512)};
  if (end > STACK_POSITIONS && !(job.scores = malloc(H * (size_t)end * sizeof(float))))
    return lab_fail(api, ORT_FAIL, "lab.engine::Attention: out of memory for the scores");
  st = lab_parallel(api, ctx, head, H, &job);
  free(job.scores);
  return st;
}

static OrtStatus *create_kernel_v2(const Op *op, Api api, const OrtKernelInfo *info, void **out) {
  (void)op;
  Kernel *k = calloc(1, sizeof(Kernel));
  if (!k) return lab_fail(api, ORT_FAIL, "lab.engine::Attention: out of memory");
  k->api = api;
#if defined(__x86_64__)
  __builtin_cpu_init();
  k->avx512 = __builtin_cpu_supports("avx512f");
#endif
  OrtStatus *st = lab_attribute_int(api, info, "num_heads", &k->heads);
  if (!st) st = lab_attribute_int(api, info, "kv_num_heads", &k->kv_heads);
  if (!st && (k->heads <= 0 || k->kv_heads <= 0 || k->heads % k->kv_heads))
    st = bad(api, "lab.engine::Attention: num_heads must be a positive multiple of kv_num_heads");
  if (st) {
    free(k);
    return st;
  }
  *out = k;
  return NULL;
}
static void *create_kernel(const Op *op, Api api, const OrtKernelInfo *info) {
  void *k = NULL;
  OrtStatus *st = create_kernel_v2(op, api, info, &k);
  if (st) lab_release_status(api, st);
  return k;
}
static void compute_v1(void *kernel, OrtKernelContext *ctx) {
  OrtStatus *st = compute(kernel, ctx);
  if (st) lab_release_status(((Kernel *)kernel)->api, st);
}
static void destroy_kernel(void *kernel) { free(kernel); }
static const char *op_name(const Op *op) { return (void)op, "Attention"; }
static int input_type(const Op *op, size_t i) { return (void)op, i >= 5 ? ELEM_INT32 : ELEM_FLOAT; }
static int output_type(const Op *op, size_t i) { return (void)op, (void)i, ELEM_FLOAT; }
static size_t seven(const Op *op) { return (void)op, 7; }
static size_t three(const Op *op) { return (void)op, 3; }
static int input_kind(const Op *op, size_t i) { return (void)op, i == 1 || i == 2 ? INPUT_OPTIONAL : INPUT_REQUIRED; }

const Op lab_attention_op = {
    LAB_OP_COMMON,
    .CreateKernel = create_kernel,
    .GetName = op_name,
    .GetInputType = input_type,
    .GetInputTypeCount = seven,
    .GetOutputType = output_type,
    .GetOutputTypeCount = three,
    .KernelCompute = compute_v1,
    .KernelDestroy = destroy_kernel,
    .GetInputCharacteristic = input_kind,
    .CreateKernelV2 = create_kernel_v2,
    .KernelComputeV2 = compute,
};
