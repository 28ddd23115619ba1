// Node-API glue: unpacks positional arguments (numbers and typed arrays) and calls the kernels. Shapes and
// strides of the strided kernels travel through an Int32Array registered once with init(), so a call
// allocates nothing. Sizes are checked against the arrays' lengths (a RangeError instead of a wild write).
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adaptlm.h"
#include "kernels.h"

typedef struct {
  napi_ref scratch_ref;
  int32_t *scratch;
  size_t scratch_len;
} instance_data;

#define MAX_ARGS 24

typedef struct {
  napi_env env;
  napi_value argv[MAX_ARGS];
  size_t argc;
  int failed;
} call;

static int begin(napi_env env, napi_callback_info info, call *c, size_t expected) {
  c->env = env;
  c->argc = MAX_ARGS;
  c->failed = 0;
  if (napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL) != napi_ok) return 0;
  if (c->argc < expected) {
    napi_throw_type_error(env, NULL, "adaptlm native: too few arguments");
    return 0;
  }
  return 1;
}

static void fail(call *c, const char *message, int range) {
  if (!c->failed) {
    c->failed = 1;
    if (range)
      napi_throw_range_error(c->env, NULL, message);
    else
      napi_throw_type_error(c->env, NULL, message);
  }
}

static double num(call *c, size_t i) {
  double v = 0;
  if (napi_get_value_double(c->env, c->argv[i], &v) != napi_ok) fail(c, "adaptlm native: expected a number", 0);
  return v;
}

static long integer(call *c, size_t i) { return (long)num(c, i); }

static int boolean(call *c, size_t i) {
  bool v = false;
  if (napi_get_value_bool(c->env, c->argv[i], &v) != napi_ok) return num(c, i) != 0;
  return v;
}

/* A typed array of the wanted kind (napi_float32_array, napi_int32_array, or -1: any 4-byte kind). */
static void *array_value(call *c, napi_value value, int kind, size_t *length, napi_typedarray_type *type_out) {
  if (length) *length = 0;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  /* no ArrayBuffer handle or offset requested: creating the handle is most of this call's cost */
  if (napi_get_typedarray_info(c->env, value, &type, &len, &data, NULL, NULL) != napi_ok) {
    fail(c, "adaptlm native: expected a typed array", 0);
    return NULL;
  }
  if (kind >= 0 && (int)type != kind) {
    fail(c,
         kind == napi_float32_array ? "adaptlm native backend computes in float32 only: expected a Float32Array "
                                      "(use the reference backend for float64)"
                                    : "adaptlm native: expected an Int32Array",
         0);
    return NULL;
  }
  if (kind < 0 && type != napi_float32_array && type != napi_int32_array) {
    fail(c, "adaptlm native: expected a Float32Array or an Int32Array", 0);
    return NULL;
  }
  if (length) *length = len;
  if (type_out) *type_out = type;
  if (data == NULL) data = (void *)(uintptr_t)16; /* empty array: any non-null pointer, never dereferenced */
  return data;
}

/* argument i */
static void *array(call *c, size_t i, int kind, size_t *length, napi_typedarray_type *type_out) {
  return array_value(c, c->argv[i], kind, length, type_out);
}

static float *f32(call *c, size_t i, size_t *length) { return array(c, i, napi_float32_array, length, NULL); }
static int32_t *i32(call *c, size_t i, size_t *length) { return array(c, i, napi_int32_array, length, NULL); }

static int is_nullish(call *c, size_t i) {
  napi_valuetype t;
  if (napi_typeof(c->env, c->argv[i], &t) != napi_ok) return 1;
  return t == napi_null || t == napi_undefined;
}

/* A Float32Array or NULL for null/undefined. */
static float *f32_or_null(call *c, size_t i, size_t *length) {
  if (is_nullish(c, i)) {
    if (length) *length = 0;
    return NULL;
  }
  return f32(c, i, length);
}

static void need(call *c, size_t have, double want, const char *what) {
  if (!c->failed && (double)have < want) {
    char message[200];
    snprintf(message, sizeof message, "adaptlm native: %s has %zu elements, the call needs %.0f", what, have, want);
    fail(c, message, 1);
  }
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static instance_data *instance(napi_env env) {
  instance_data *d = NULL;
  napi_get_instance_data(env, (void **)&d);
  return d;
}

/* Reads rank, then `groups` stride lists of that rank after the shape, from the scratch Int32Array. */
static int read_dims(call *c, long nd, int groups, long *shape, long strides[][ADAPTLM_MAX_DIMS]) {
  instance_data *d = instance(c->env);
  if (!d || !d->scratch) {
    fail(c, "adaptlm native: init() was not called", 0);
    return 0;
  }
  if (nd < 0 || nd > ADAPTLM_MAX_DIMS || (size_t)(nd * (groups + 1)) > d->scratch_len) {
    fail(c, "adaptlm native: tensors of rank above 16 are not supported", 1);
    return 0;
  }
  for (long i = 0; i < nd; i++) {
    shape[i] = d->scratch[i];
    if (shape[i] < 0) {
      fail(c, "adaptlm native: negative dimension", 1);
      return 0;
    }
  }
  for (int g = 0; g < groups; g++)
    for (long i = 0; i < nd; i++) strides[g][i] = d->scratch[(g + 1) * nd + i];
  return 1;
}

/* The element range [lo, hi] an operand touches; checks it lies inside the array. */
static void need_strided(call *c, size_t len, long offset, const long *shape, const long *strides, long nd,
                         const char *what) {
  long lo = offset, hi = offset;
  for (long i = 0; i < nd; i++) {
    if (shape[i] == 0) return;
    long span = (shape[i] - 1) * strides[i];
    if (span < 0) lo += span;
    else hi += span;
  }
  if (lo < 0) fail(c, "adaptlm native: strided access before the start of an array", 1);
  else need(c, len, (double)hi + 1, what);
}

/* ---------- entry points ---------- */

static napi_value js_init(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 1)) return NULL;
  size_t len = 0;
  int32_t *scratch = i32(&c, 0, &len);
  if (c.failed) return NULL;
  instance_data *d = instance(env);
  if (d->scratch_ref) napi_delete_reference(env, d->scratch_ref);
  napi_create_reference(env, c.argv[0], 1, &d->scratch_ref);
  d->scratch = scratch;
  d->scratch_len = len;
  return undefined(env);
}

static napi_value js_threads(napi_env env, napi_callback_info info) {
  (void)info;
  return number(env, pool_threads());
}

/* Elements (of 4 bytes) from the start of a typed array to its first 64-byte boundary: the pool views its new
   arrays from there, so that vector loads of a row start do not straddle cache lines. */
static napi_value js_align_offset(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 1)) return NULL;
  size_t len = 0;
  void *data = array(&c, 0, -1, &len, NULL);
  if (c.failed) return NULL;
  return number(env, (double)(((64 - (uintptr_t)data % 64) % 64) / 4));
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 1)) return NULL;
  long n = integer(&c, 0);
  if (c.failed) return NULL;
  pool_set_threads((int)(n < 1 ? 1 : n));
  return number(env, pool_threads());
}

static napi_value js_isa(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_string_utf8(env, adaptlm_isa_name(adaptlm_isa()), NAPI_AUTO_LENGTH, &r);
  return r;
}

static napi_value js_best_isa(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_string_utf8(env, adaptlm_isa_name(adaptlm_best_isa()), NAPI_AUTO_LENGTH, &r);
  return r;
}

static napi_value js_set_isa(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 1)) return NULL;
  char name[32] = {0};
  size_t len = 0;
  if (napi_get_value_string_utf8(env, c.argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "adaptlm native: setIsa expects 'scalar', 'avx2' or 'avx512'");
    return NULL;
  }
  int isa = strcmp(name, "avx512") == 0 ? ISA_AVX512 : strcmp(name, "avx2") == 0 ? ISA_AVX2 : ISA_SCALAR;
  adaptlm_force_isa(isa);
  return js_isa(env, info);
}

/* gemm(batch, m, n, k, a, aOffset, strideA, transA, b, bOffset, strideB, transB, c, cOffset, strideC, alpha, beta) */
static napi_value js_gemm(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 18)) return NULL;
  size_t la, lb, lc, lbias = 0;
  long batch = integer(&c, 0), m = integer(&c, 1), n = integer(&c, 2), k = integer(&c, 3);
  float *a = f32(&c, 4, &la), *b = f32(&c, 8, &lb), *cc = f32(&c, 12, &lc);
  long ao = integer(&c, 5), sa = integer(&c, 6), bo = integer(&c, 9), sb = integer(&c, 10);
  long co = integer(&c, 13), sc = integer(&c, 14);
  int ta = boolean(&c, 7), tb = boolean(&c, 11);
  double alpha = num(&c, 15), beta = num(&c, 16);
  float *bias = f32_or_null(&c, 17, &lbias);
  if (c.failed) return NULL;
  if (batch <= 0 || m <= 0 || n <= 0) return undefined(env);
  if (k < 0 || ao < 0 || bo < 0 || co < 0 || sa < 0 || sb < 0 || sc < 0) {
    fail(&c, "adaptlm native: gemm sizes, offsets and strides must be non-negative", 1);
    return NULL;
  }
  need(&c, la, (double)ao + (double)(batch - 1) * sa + (double)m * k, "gemm A");
  need(&c, lb, (double)bo + (double)(batch - 1) * sb + (double)k * n, "gemm B");
  need(&c, lc, (double)co + (double)(batch - 1) * sc + (double)m * n, "gemm C");
  if (bias) need(&c, lbias, (double)n, "gemm bias");
  if (bias && beta != 0.0) fail(&c, "adaptlm native: gemm with a bias needs beta 0", 1);
  if (c.failed) return NULL;
  gemm_args g = {(int)batch, (int)m, (int)n, (int)k, a + ao, sa, ta, b + bo, sb, tb, cc + co, sc,
                 (float)alpha, (float)beta, bias};
  gemm_run(&g);
  return undefined(env);
}

/* packedWidth(): columns per panel of a packed weight under the current ISA */
static napi_value js_packed_width(napi_env env, napi_callback_info info) {
  (void)info;
  return number(env, gemm_packed_width());
}

/* Floats from the start of `dst` to its first 64-byte boundary (the micro-kernels load panels aligned). */
static long aligned_start(const float *dst) { return (long)((64 - (uintptr_t)dst % 64) % 64) / 4; }

/* packWeight(w, wOffset, n, k, transposed, dst): packs W into dst from its first 64-byte boundary (dst needs
   packedSize + 16 floats) and returns that offset; the panels hold packedWidth() columns. */
static napi_value js_pack_weight(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 6)) return NULL;
  size_t lw, ld;
  float *w = f32(&c, 0, &lw), *dst = f32(&c, 5, &ld);
  long wo = integer(&c, 1), n = integer(&c, 2), k = integer(&c, 3);
  int transposed = boolean(&c, 4);
  if (c.failed) return NULL;
  if (n <= 0 || k <= 0 || wo < 0) {
    fail(&c, "adaptlm native: packWeight needs n, k > 0 and a non-negative offset", 1);
    return NULL;
  }
  need(&c, lw, (double)wo + (double)n * k, "packWeight W");
  long start = aligned_start(dst);
  need(&c, ld, (double)start + (double)gemm_packed_size((int)n, (int)k), "packWeight destination");
  if (c.failed) return NULL;
  gemm_pack_weight((int)n, (int)k, w + wo, transposed, dst + start);
  return number(env, (double)start);
}

/* gemmPacked(m, n, k, a, aOffset, packed, packedOffset, width, c, cOffset, beta): c [m, n] = a [m, k] x the
   packed weight + beta c */
static napi_value js_gemm_packed(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 11)) return NULL;
  size_t la, lp, lc;
  long m = integer(&c, 0), n = integer(&c, 1), k = integer(&c, 2), ao = integer(&c, 4);
  long po = integer(&c, 6), width = integer(&c, 7), co = integer(&c, 9);
  float *a = f32(&c, 3, &la), *p = f32(&c, 5, &lp), *cc = f32(&c, 8, &lc);
  double beta = num(&c, 10);
  if (c.failed) return NULL;
  if (m <= 0 || n <= 0) return undefined(env);
  if (k <= 0 || ao < 0 || po < 0 || co < 0) {
    fail(&c, "adaptlm native: gemmPacked needs k > 0 and non-negative offsets", 1);
    return NULL;
  }
  if (width != gemm_packed_width()) {
    fail(&c, "adaptlm native: the weight was packed for another instruction set (pack it again)", 0);
    return NULL;
  }
  if ((uintptr_t)(p + po) % 64 != 0) {
    fail(&c, "adaptlm native: packed weight panels are not 64-byte aligned (pack it again)", 0);
    return NULL;
  }
  need(&c, la, (double)ao + (double)m * k, "gemmPacked A");
  need(&c, lp, (double)po + (double)gemm_packed_size((int)n, (int)k), "gemmPacked weight");
  need(&c, lc, (double)co + (double)m * n, "gemmPacked C");
  if (c.failed) return NULL;
  gemm_packed_run((int)m, (int)n, (int)k, a + ao, p + po, cc + co, (float)beta);
  return undefined(env);
}

/* unary(op, x, out, n, alpha) */
static napi_value js_unary(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 5)) return NULL;
  size_t lx = 0, lo = 0;
  long op = integer(&c, 0), n = integer(&c, 3);
  float *x = f32(&c, 1, &lx), *out = f32(&c, 2, &lo);
  double alpha = num(&c, 4);
  need(&c, lx, (double)n, "unary x");
  need(&c, lo, (double)n, "unary out");
  if (c.failed || op < 0 || op >= U_COUNT) return c.failed ? NULL : (fail(&c, "bad op", 0), NULL);
  if (n > 0) k_unary((int)op, x, out, n, (float)alpha);
  return undefined(env);
}

/* unaryBackward(op, x, y, dy, dx, n, alpha) */
static napi_value js_unary_backward(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 7)) return NULL;
  size_t lx = 0, ly = 0, ld = 0, lo = 0;
  long op = integer(&c, 0), n = integer(&c, 5);
  float *x = f32(&c, 1, &lx), *y = f32(&c, 2, &ly), *dy = f32(&c, 3, &ld), *dx = f32(&c, 4, &lo);
  double alpha = num(&c, 6);
  need(&c, lx, (double)n, "unaryBackward x");
  need(&c, ly, (double)n, "unaryBackward y");
  need(&c, ld, (double)n, "unaryBackward dy");
  need(&c, lo, (double)n, "unaryBackward dx");
  if (c.failed || op < 0 || op >= U_COUNT) return c.failed ? NULL : (fail(&c, "bad op", 0), NULL);
  if (n > 0) k_unary_backward((int)op, x, y, dy, dx, n, (float)alpha);
  return undefined(env);
}

/* binary(op, a, b, out, rank): scratch = shape, aStrides, bStrides */
static napi_value js_binary(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 5)) return NULL;
  size_t la, lb, lo;
  long op = integer(&c, 0), nd = integer(&c, 4);
  float *a = f32(&c, 1, &la), *b = f32(&c, 2, &lb), *out = f32(&c, 3, &lo);
  long shape[ADAPTLM_MAX_DIMS], st[2][ADAPTLM_MAX_DIMS];
  if (c.failed || !read_dims(&c, nd, 2, shape, st)) return NULL;
  if (op < 0 || op >= B_COUNT) return fail(&c, "bad op", 0), NULL;
  double total = 1;
  for (long i = 0; i < nd; i++) total *= (double)shape[i];
  need(&c, lo, total, "binary out");
  need_strided(&c, la, 0, shape, st[0], nd, "binary a");
  need_strided(&c, lb, 0, shape, st[1], nd, "binary b");
  if (c.failed) return NULL;
  k_binary((int)op, a, st[0], b, st[1], out, shape, (int)nd);
  return undefined(env);
}

/* where(cond, a, b, out, rank): scratch = shape, condStrides, aStrides, bStrides */
static napi_value js_where(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 5)) return NULL;
  size_t lc, la, lb, lo;
  napi_typedarray_type ctype = napi_float32_array;
  void *cond = array(&c, 0, -1, &lc, &ctype);
  float *a = f32(&c, 1, &la), *b = f32(&c, 2, &lb), *out = f32(&c, 3, &lo);
  long nd = integer(&c, 4);
  long shape[ADAPTLM_MAX_DIMS], st[3][ADAPTLM_MAX_DIMS];
  if (c.failed || !read_dims(&c, nd, 3, shape, st)) return NULL;
  double total = 1;
  for (long i = 0; i < nd; i++) total *= (double)shape[i];
  need(&c, lo, total, "where out");
  need_strided(&c, lc, 0, shape, st[0], nd, "where cond");
  need_strided(&c, la, 0, shape, st[1], nd, "where a");
  need_strided(&c, lb, 0, shape, st[2], nd, "where b");
  if (c.failed) return NULL;
  k_where(cond, ctype == napi_int32_array, st[0], a, st[1], b, st[2], out, shape, (int)nd);
  return undefined(env);
}

/* reduce(opMax, x, out, outer, size, inner) */
static napi_value js_reduce(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 6)) return NULL;
  size_t lx = 0, lo = 0;
  int op_max = boolean(&c, 0);
  float *x = f32(&c, 1, &lx), *out = f32(&c, 2, &lo);
  long outer = integer(&c, 3), size = integer(&c, 4), inner = integer(&c, 5);
  need(&c, lx, (double)outer * size * inner, "reduce x");
  need(&c, lo, (double)outer * inner, "reduce out");
  if (c.failed) return NULL;
  if (outer > 0 && inner > 0) k_reduce(op_max, x, out, outer, size, inner);
  return undefined(env);
}

/* argmax(x, out, outer, size, inner) */
static napi_value js_argmax(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 5)) return NULL;
  size_t lx = 0, lo = 0;
  float *x = f32(&c, 0, &lx);
  int32_t *out = i32(&c, 1, &lo);
  long outer = integer(&c, 2), size = integer(&c, 3), inner = integer(&c, 4);
  need(&c, lx, (double)outer * size * inner, "argmax x");
  need(&c, lo, (double)outer * inner, "argmax out");
  if (c.failed) return NULL;
  if (outer > 0 && inner > 0) k_argmax(x, out, outer, size, inner);
  return undefined(env);
}

/* sumSquares(x, n) */
static napi_value js_sum_squares(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 2)) return NULL;
  size_t lx;
  float *x = f32(&c, 0, &lx);
  long n = integer(&c, 1);
  need(&c, lx, (double)n, "sumSquares x");
  if (c.failed) return NULL;
  return number(env, n > 0 ? k_sum_squares(x, n) : 0.0);
}

/* copyStrided(src, srcOffset, dst, dstOffset, rank): scratch = shape, srcStrides, dstStrides */
static napi_value js_copy_strided(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 5)) return NULL;
  size_t ls, ld;
  napi_typedarray_type ts, td;
  uint32_t *src = array(&c, 0, -1, &ls, &ts);
  long so = integer(&c, 1);
  uint32_t *dst = array(&c, 2, -1, &ld, &td);
  long dof = integer(&c, 3), nd = integer(&c, 4);
  long shape[ADAPTLM_MAX_DIMS], st[2][ADAPTLM_MAX_DIMS];
  if (c.failed || !read_dims(&c, nd, 2, shape, st)) return NULL;
  if (ts != td) return fail(&c, "adaptlm native: copyStrided between different array types", 0), NULL;
  need_strided(&c, ls, so, shape, st[0], nd, "copyStrided src");
  need_strided(&c, ld, dof, shape, st[1], nd, "copyStrided dst");
  if (c.failed) return NULL;
  int same = (const char *)src < (const char *)(dst + ld) && (const char *)dst < (const char *)(src + ls);
  k_copy_strided(src + so, st[0], dst + dof, st[1], shape, (int)nd, same);
  return undefined(env);
}

/* fill(out, value, offset, n) */
static napi_value js_fill(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 4)) return NULL;
  size_t lo;
  napi_typedarray_type type;
  uint32_t *out = array(&c, 0, -1, &lo, &type);
  double value = num(&c, 1);
  long offset = integer(&c, 2), n = integer(&c, 3);
  if (c.failed) return NULL;
  if (offset < 0) return fail(&c, "adaptlm native: negative offset", 1), NULL;
  need(&c, lo, (double)offset + n, "fill out");
  if (c.failed || n <= 0) return c.failed ? NULL : undefined(env);
  uint32_t bits;
  if (type == napi_int32_array) {
    /* JS Int32Array assignment: ToInt32 (wraps modulo 2^32; NaN and infinities become 0). */
    double t = value != value || value == 1.0 / 0.0 || value == -1.0 / 0.0 ? 0.0 : value;
    t = t < 0 ? -__builtin_floor(-t) : __builtin_floor(t);
    double wrapped = __builtin_fmod(t, 4294967296.0);
    if (wrapped < 0) wrapped += 4294967296.0;
    bits = (uint32_t)wrapped;
  } else {
    float f = (float)value;
    memcpy(&bits, &f, sizeof bits);
  }
  k_fill(out + offset, bits, n);
  return undefined(env);
}

/* softmax-like(x, out, rows, cols) with kind 0 softmax, 1 logSoftmax */
static napi_value rows_kernel(napi_env env, napi_callback_info info, int kind) {
  call c;
  if (!begin(env, info, &c, 4)) return NULL;
  size_t lx = 0, lo = 0;
  float *x = f32(&c, 0, &lx), *out = f32(&c, 1, &lo);
  long rows = integer(&c, 2), cols = integer(&c, 3);
  need(&c, lx, (double)rows * cols, "softmax input");
  need(&c, lo, (double)rows * cols, "softmax output");
  if (c.failed) return NULL;
  if (rows > 0 && cols > 0) {
    if (kind == 0) k_softmax(x, out, rows, cols);
    else k_log_softmax(x, out, rows, cols);
  }
  return undefined(env);
}

static napi_value js_softmax(napi_env env, napi_callback_info info) { return rows_kernel(env, info, 0); }
static napi_value js_log_softmax(napi_env env, napi_callback_info info) { return rows_kernel(env, info, 1); }

static napi_value rows_backward_kernel(napi_env env, napi_callback_info info, int kind) {
  call c;
  if (!begin(env, info, &c, 5)) return NULL;
  size_t ly, ld, lo;
  float *y = f32(&c, 0, &ly), *dy = f32(&c, 1, &ld), *dx = f32(&c, 2, &lo);
  long rows = integer(&c, 3), cols = integer(&c, 4);
  double total = (double)rows * cols;
  need(&c, ly, total, "softmax backward y");
  need(&c, ld, total, "softmax backward dy");
  need(&c, lo, total, "softmax backward dx");
  if (c.failed) return NULL;
  if (rows > 0 && cols > 0) {
    if (kind == 0) k_softmax_backward(y, dy, dx, rows, cols);
    else k_log_softmax_backward(y, dy, dx, rows, cols);
  }
  return undefined(env);
}

static napi_value js_softmax_backward(napi_env env, napi_callback_info info) {
  return rows_backward_kernel(env, info, 0);
}
static napi_value js_log_softmax_backward(napi_env env, napi_callback_info info) {
  return rows_backward_kernel(env, info, 1);
}

/* layerNorm(x, w, b, out, mean, rstd, rows, cols, eps) */
static napi_value js_layer_norm(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 9)) return NULL;
  size_t lx, lw, lb, lo, lm, lr;
  float *x = f32(&c, 0, &lx), *w = f32_or_null(&c, 1, &lw), *b = f32_or_null(&c, 2, &lb);
  float *out = f32(&c, 3, &lo), *mean = f32(&c, 4, &lm), *rstd = f32(&c, 5, &lr);
  long rows = integer(&c, 6), cols = integer(&c, 7);
  double eps = num(&c, 8);
  double total = (double)rows * cols;
  need(&c, lx, total, "layerNorm x");
  need(&c, lo, total, "layerNorm out");
  if (w) need(&c, lw, (double)cols, "layerNorm weight");
  if (b) need(&c, lb, (double)cols, "layerNorm bias");
  need(&c, lm, (double)rows, "layerNorm mean");
  need(&c, lr, (double)rows, "layerNorm rstd");
  if (c.failed) return NULL;
  if (rows > 0 && cols > 0) k_layer_norm(x, w, b, out, mean, rstd, rows, cols, (float)eps);
  return undefined(env);
}

/* layerNormBackward(dy, x, w, mean, rstd, dx, dw, db, rows, cols) */
static napi_value js_layer_norm_backward(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 10)) return NULL;
  size_t ldy, lx, lw, lm, lr, ldx, ldw, ldb;
  float *dy = f32(&c, 0, &ldy), *x = f32(&c, 1, &lx), *w = f32_or_null(&c, 2, &lw);
  float *mean = f32(&c, 3, &lm), *rstd = f32(&c, 4, &lr), *dx = f32(&c, 5, &ldx);
  float *dw = f32_or_null(&c, 6, &ldw), *db = f32_or_null(&c, 7, &ldb);
  long rows = integer(&c, 8), cols = integer(&c, 9);
  double total = (double)rows * cols;
  need(&c, ldy, total, "layerNormBackward dy");
  need(&c, lx, total, "layerNormBackward x");
  need(&c, ldx, total, "layerNormBackward dx");
  if (w) need(&c, lw, (double)cols, "layerNormBackward weight");
  if (dw) need(&c, ldw, (double)cols, "layerNormBackward dw");
  if (db) need(&c, ldb, (double)cols, "layerNormBackward db");
  need(&c, lm, (double)rows, "layerNormBackward mean");
  need(&c, lr, (double)rows, "layerNormBackward rstd");
  if (c.failed) return NULL;
  if (cols > 0) k_layer_norm_backward(dy, x, w, mean, rstd, dx, dw, db, rows < 0 ? 0 : rows, cols);
  return undefined(env);
}

/* rmsNorm(x, w, out, rstd, rows, cols, eps) */
static napi_value js_rms_norm(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 7)) return NULL;
  size_t lx, lw, lo, lr;
  float *x = f32(&c, 0, &lx), *w = f32_or_null(&c, 1, &lw), *out = f32(&c, 2, &lo), *rstd = f32(&c, 3, &lr);
  long rows = integer(&c, 4), cols = integer(&c, 5);
  double eps = num(&c, 6);
  double total = (double)rows * cols;
  need(&c, lx, total, "rmsNorm x");
  need(&c, lo, total, "rmsNorm out");
  if (w) need(&c, lw, (double)cols, "rmsNorm weight");
  need(&c, lr, (double)rows, "rmsNorm rstd");
  if (c.failed) return NULL;
  if (rows > 0 && cols > 0) k_rms_norm(x, w, out, rstd, rows, cols, (float)eps);
  return undefined(env);
}

/* rmsNormBackward(dy, x, w, rstd, dx, dw, rows, cols) */
static napi_value js_rms_norm_backward(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 8)) return NULL;
  size_t ldy, lx, lw, lr, ldx, ldw;
  float *dy = f32(&c, 0, &ldy), *x = f32(&c, 1, &lx), *w = f32_or_null(&c, 2, &lw), *rstd = f32(&c, 3, &lr);
  float *dx = f32(&c, 4, &ldx), *dw = f32_or_null(&c, 5, &ldw);
  long rows = integer(&c, 6), cols = integer(&c, 7);
  double total = (double)rows * cols;
  need(&c, ldy, total, "rmsNormBackward dy");
  need(&c, lx, total, "rmsNormBackward x");
  need(&c, ldx, total, "rmsNormBackward dx");
  if (w) need(&c, lw, (double)cols, "rmsNormBackward weight");
  if (dw) need(&c, ldw, (double)cols, "rmsNormBackward dw");
  need(&c, lr, (double)rows, "rmsNormBackward rstd");
  if (c.failed) return NULL;
  if (cols > 0) k_rms_norm_backward(dy, x, w, rstd, dx, dw, rows < 0 ? 0 : rows, cols);
  return undefined(env);
}

/* nonzeroRows(x, rows, cols, limit, out) */
static napi_value js_nonzero_rows(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 5)) return NULL;
  size_t lx, lo;
  float *x = f32(&c, 0, &lx);
  long rows = integer(&c, 1), cols = integer(&c, 2), limit = integer(&c, 3);
  int32_t *out = i32(&c, 4, &lo);
  if (c.failed) return NULL;
  if (rows < 0 || cols < 0 || limit < 0) return fail(&c, "adaptlm native: nonzeroRows sizes must be >= 0", 1), NULL;
  need(&c, lx, (double)rows * cols, "nonzeroRows x");
  need(&c, lo, (double)(rows < limit + 1 ? rows : limit + 1), "nonzeroRows out");
  if (c.failed) return NULL;
  return number(env, (double)(cols > 0 ? k_nonzero_rows(x, rows, cols, limit, out) : 0));
}

/* gatherRows(table, ids, out, cols) */
static napi_value js_gather_rows(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 4)) return NULL;
  size_t lt, li, lo;
  float *table = f32(&c, 0, &lt), *out = f32(&c, 2, &lo);
  int32_t *ids = i32(&c, 1, &li);
  long cols = integer(&c, 3);
  need(&c, lo, (double)li * cols, "gatherRows out");
  if (c.failed) return NULL;
  if (cols <= 0) return undefined(env);
  for (size_t i = 0; i < li; i++)
    if (ids[i] < 0 || (double)(ids[i] + 1) * cols > (double)lt)
      return fail(&c, "adaptlm native: gatherRows id outside the table", 1), NULL;
  k_gather_rows(table, ids, (long)li, out, cols);
  return undefined(env);
}

/* scatterAddRows(dOut, ids, dTable, cols, skipId) */
static napi_value js_scatter_add_rows(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 5)) return NULL;
  size_t lo, li, lt;
  float *dout = f32(&c, 0, &lo), *table = f32(&c, 2, &lt);
  int32_t *ids = i32(&c, 1, &li);
  long cols = integer(&c, 3), skip = integer(&c, 4);
  need(&c, lo, (double)li * cols, "scatterAddRows dOut");
  if (c.failed) return NULL;
  if (cols <= 0) return undefined(env);
  for (size_t i = 0; i < li; i++)
    if (ids[i] != skip && (ids[i] < 0 || (double)(ids[i] + 1) * cols > (double)lt))
      return fail(&c, "adaptlm native: scatterAddRows id outside the table", 1), NULL;
  k_scatter_add_rows(dout, ids, (long)li, table, cols, (int32_t)skip);
  return undefined(env);
}

static int check_targets(call *c, const int32_t *t, long rows, long cols, long ignore) {
  for (long r = 0; r < rows; r++)
    if (t[r] != ignore && (t[r] < 0 || t[r] >= cols)) {
      fail(c, "adaptlm native: cross-entropy target outside [0, cols)", 1);
      return 0;
    }
  return 1;
}

/* crossEntropy(logits, targets, losses, lse, rows, cols, ignoreIndex) */
static napi_value js_cross_entropy(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 7)) return NULL;
  size_t ll, lt, lo, le;
  float *logits = f32(&c, 0, &ll), *losses = f32(&c, 2, &lo), *lse = f32(&c, 3, &le);
  int32_t *targets = i32(&c, 1, &lt);
  long rows = integer(&c, 4), cols = integer(&c, 5), ignore = integer(&c, 6);
  need(&c, ll, (double)rows * cols, "crossEntropy logits");
  need(&c, lt, (double)rows, "crossEntropy targets");
  need(&c, lo, (double)rows, "crossEntropy losses");
  need(&c, le, (double)rows, "crossEntropy lse");
  if (c.failed || !check_targets(&c, targets, rows, cols, ignore)) return NULL;
  if (rows > 0 && cols > 0) k_cross_entropy(logits, targets, losses, lse, rows, cols, (int32_t)ignore);
  return undefined(env);
}

/* crossEntropyBackward(logits, targets, lse, dLoss, dLogits, rows, cols, ignoreIndex) */
static napi_value js_cross_entropy_backward(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 8)) return NULL;
  size_t ll, lt, le, lg, ld;
  float *logits = f32(&c, 0, &ll), *lse = f32(&c, 2, &le), *dloss = f32(&c, 3, &lg), *dlogits = f32(&c, 4, &ld);
  int32_t *targets = i32(&c, 1, &lt);
  long rows = integer(&c, 5), cols = integer(&c, 6), ignore = integer(&c, 7);
  need(&c, ll, (double)rows * cols, "crossEntropyBackward logits");
  need(&c, ld, (double)rows * cols, "crossEntropyBackward dLogits");
  need(&c, lt, (double)rows, "crossEntropyBackward targets");
  need(&c, le, (double)rows, "crossEntropyBackward lse");
  need(&c, lg, (double)rows, "crossEntropyBackward dLoss");
  if (c.failed || !check_targets(&c, targets, rows, cols, ignore)) return NULL;
  if (rows > 0 && cols > 0)
    k_cross_entropy_backward(logits, targets, lse, dloss, dlogits, rows, cols, (int32_t)ignore);
  return undefined(env);
}

/* rope(x, out, positions, invFreq, batch, heads, seq, headDim, inverse) */
static napi_value js_rope(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 9)) return NULL;
  size_t lx, lo, lp, lf;
  float *x = f32(&c, 0, &lx), *out = f32(&c, 1, &lo);
  int32_t *pos = i32(&c, 2, &lp);
  double *inv = array(&c, 3, napi_float64_array, &lf, NULL);
  long batch = integer(&c, 4), heads = integer(&c, 5), seq = integer(&c, 6), hd = integer(&c, 7);
  int inverse = boolean(&c, 8);
  double total = (double)batch * heads * seq * hd;
  if (c.failed) return NULL;
  if (hd % 2 != 0) return fail(&c, "adaptlm native: rope needs an even headDim", 1), NULL;
  need(&c, lx, total, "rope x");
  need(&c, lo, total, "rope out");
  need(&c, lp, (double)batch * seq, "rope positions");
  need(&c, lf, (double)hd / 2, "rope invFreq");
  if (c.failed) return NULL;
  if (total > 0) k_rope(x, out, pos, inv, batch, heads, seq, hd, inverse);
  return undefined(env);
}

/* sampleRows(logits, uniforms, tokens, lse, rows, cols, temperature) */
static napi_value js_sample_rows(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 7)) return NULL;
  size_t ll, lu, lt, le;
  float *logits = f32(&c, 0, &ll);
  double *uniforms = array(&c, 1, napi_float64_array, &lu, NULL);
  int32_t *tokens = i32(&c, 2, &lt);
  double *lse = array(&c, 3, napi_float64_array, &le, NULL);
  long rows = integer(&c, 4), cols = integer(&c, 5);
  double temperature = num(&c, 6);
  if (c.failed) return NULL;
  need(&c, ll, (double)rows * cols, "sampleRows logits");
  need(&c, lt, (double)rows, "sampleRows tokens");
  need(&c, le, (double)rows, "sampleRows lse");
  if (temperature > 0) need(&c, lu, (double)rows, "sampleRows uniforms");
  if (c.failed) return NULL;
  if (rows > 0 && cols > 0) k_sample_rows(logits, uniforms, tokens, lse, rows, cols, temperature);
  return undefined(env);
}

static int check_heads(call *c, long heads, long kv) {
  if (kv <= 0 || heads <= 0 || heads % kv != 0) {
    fail(c, "adaptlm native: attention heads must be a positive multiple of kvHeads", 1);
    return 0;
  }
  return 1;
}

/* attention(batch, heads, kvHeads, tq, tk, headDim, scale, causal, causalOffset, q, k, v, keyBias, out, probs,
   kvStride, window, sharedK, sharedV, sharedLength, tokens) */
static napi_value js_attention(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 21)) return NULL;
  attention_args a;
  memset(&a, 0, sizeof a);
  size_t lq, lk, lv, lb, lo, lp, lsk = 0, lsv = 0;
  a.batch = integer(&c, 0);
  a.heads = integer(&c, 1);
  a.kv_heads = integer(&c, 2);
  a.tq = integer(&c, 3);
  a.tk = integer(&c, 4);
  a.d = integer(&c, 5);
  a.scale = (float)num(&c, 6);
  a.causal = boolean(&c, 7);
  a.causal_offset = integer(&c, 8);
  a.q = f32(&c, 9, &lq);
  a.k = f32(&c, 10, &lk);
  a.v = f32(&c, 11, &lv);
  a.key_bias = f32_or_null(&c, 12, &lb);
  a.out = f32(&c, 13, &lo);
  a.probs = f32(&c, 14, &lp);
  a.kv_stride = integer(&c, 15);
  a.window = integer(&c, 16);
  a.shared_k = f32_or_null(&c, 17, &lsk);
  a.shared_v = f32_or_null(&c, 18, &lsv);
  a.shared_len = integer(&c, 19);
  a.tokens = boolean(&c, 20);
  if (c.failed || !check_heads(&c, a.heads, a.kv_heads)) return NULL;
  if (a.tokens && (a.shared_len > 0 || a.kv_stride != a.tk))
    fail(&c, "adaptlm native: attention over token rows takes no shared keys or kvStride", 1);
  if (a.shared_len < 0 || (a.shared_len > 0 && (!a.shared_k || !a.shared_v)))
    fail(&c, "adaptlm native: attention sharedLength needs sharedK and sharedV", 1);
  if (a.shared_len > 0 && (a.key_bias || a.window > 0))
    fail(&c, "adaptlm native: attention with shared keys takes no keyBias or window", 1);
  if (a.shared_len == 0) a.shared_k = a.shared_v = NULL;
  if (a.kv_stride < a.tk) fail(&c, "adaptlm native: attention kvStride must be at least tk", 1);
  need(&c, lq, (double)a.batch * a.heads * a.tq * a.d, "attention q");
  need(&c, lk, (double)a.batch * a.kv_heads * a.kv_stride * a.d, "attention k");
  need(&c, lv, (double)a.batch * a.kv_heads * a.kv_stride * a.d, "attention v");
  if (a.key_bias) need(&c, lb, (double)a.batch * a.tk, "attention keyBias");
  need(&c, lo, (double)a.batch * a.heads * a.tq * a.d, "attention out");
  need(&c, lp, (double)a.batch * a.heads * a.tq * (a.shared_len + a.tk), "attention probs");
  if (a.shared_len > 0) {
    need(&c, lsk, (double)a.kv_heads * a.shared_len * a.d, "attention sharedK");
    need(&c, lsv, (double)a.kv_heads * a.shared_len * a.d, "attention sharedV");
  }
  if (c.failed) return NULL;
  if (a.batch > 0 && a.tq > 0) k_attention(&a);
  return undefined(env);
}

/* attentionBackward(batch, heads, kvHeads, tq, tk, headDim, scale, q, k, v, probs, dOut, dq, dk, dv, tokens) */
static napi_value js_attention_backward(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 16)) return NULL;
  attention_args a;
  memset(&a, 0, sizeof a);
  size_t lq, lk, lv, lp, ldo, ldq, ldk, ldv;
  a.batch = integer(&c, 0);
  a.heads = integer(&c, 1);
  a.kv_heads = integer(&c, 2);
  a.tq = integer(&c, 3);
  a.tk = integer(&c, 4);
  a.d = integer(&c, 5);
  a.scale = (float)num(&c, 6);
  a.q = f32(&c, 7, &lq);
  a.k = f32(&c, 8, &lk);
  a.v = f32(&c, 9, &lv);
  a.probs = f32(&c, 10, &lp);
  a.dout = f32(&c, 11, &ldo);
  a.dq = f32(&c, 12, &ldq);
  a.dk = f32(&c, 13, &ldk);
  a.dv = f32(&c, 14, &ldv);
  a.tokens = boolean(&c, 15);
  a.kv_stride = a.tk;
  if (c.failed || !check_heads(&c, a.heads, a.kv_heads)) return NULL;
  double nq = (double)a.batch * a.heads * a.tq * a.d, nk = (double)a.batch * a.kv_heads * a.tk * a.d;
  need(&c, lq, nq, "attentionBackward q");
  need(&c, ldo, nq, "attentionBackward dOut");
  need(&c, ldq, nq, "attentionBackward dq");
  need(&c, lk, nk, "attentionBackward k");
  need(&c, lv, nk, "attentionBackward v");
  need(&c, ldk, nk, "attentionBackward dk");
  need(&c, ldv, nk, "attentionBackward dv");
  need(&c, lp, (double)a.batch * a.heads * a.tq * a.tk, "attentionBackward probs");
  if (c.failed) return NULL;
  if (a.batch > 0 && a.d > 0 && a.tk > 0) k_attention_backward(&a);
  else if (a.batch > 0 && a.d > 0) memset(a.dq, 0, (size_t)nq * sizeof(float));
  return undefined(env);
}

/* adamw(arrays, scalars, beta1, beta2, eps, step): tensor t is arrays[4t..4t+3] (param, grad, m, v) and
   scalars[3t..3t+2] (n, lr, weightDecay) */
static napi_value js_adamw(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(env, info, &c, 6)) return NULL;
  size_t ls;
  const double *scalars = array(&c, 1, napi_float64_array, &ls, NULL);
  double b1 = num(&c, 2), b2 = num(&c, 3), eps = num(&c, 4), step = num(&c, 5);
  uint32_t len = 0;
  if (!c.failed && (napi_get_array_length(env, c.argv[0], &len) != napi_ok || len != ls / 3 * 4 || ls % 3))
    fail(&c, "adaptlm native: adamw takes 4 arrays and 3 numbers per tensor", 0);
  if (c.failed) return NULL;
  long count = (long)(ls / 3);
  adamw_tensor *tensors = calloc((size_t)(count > 0 ? count : 1), sizeof *tensors);
  if (!tensors) {
    fail(&c, "adaptlm native: out of memory", 0);
    return NULL;
  }
  static const char *names[4] = {"adamw param", "adamw grad", "adamw m", "adamw v"};
  for (long t = 0; t < count && !c.failed; t++) {
    long n = (long)scalars[3 * t];
    float *arrays[4];
    for (int r = 0; r < 4 && !c.failed; r++) {
      napi_value value;
      size_t have = 0;
      if (napi_get_element(env, c.argv[0], (uint32_t)(4 * t + r), &value) != napi_ok) {
        fail(&c, "adaptlm native: adamw could not read its arrays", 0);
        break;
      }
      arrays[r] = array_value(&c, value, napi_float32_array, &have, NULL);
      need(&c, have, (double)n, names[r]);
    }
    if (c.failed) break;
    tensors[t] = (adamw_tensor){arrays[0], arrays[2], arrays[3], arrays[1], n, scalars[3 * t + 1],
                                scalars[3 * t + 2]};
  }
  if (!c.failed) k_adamw(tensors, count, b1, b2, eps, step);
  free(tensors);
  return c.failed ? NULL : undefined(env);
}

static void finalize_instance(napi_env env, void *data, void *hint) {
  (void)hint;
  instance_data *d = data;
  if (d->scratch_ref) napi_delete_reference(env, d->scratch_ref);
  free(d);
}

static napi_value module_init(napi_env env, napi_value exports) {
  instance_data *d = calloc(1, sizeof *d);
  napi_set_instance_data(env, d, finalize_instance, NULL);
  static const struct {
    const char *name;
    napi_callback fn;
  } functions[] = {
      {"init", js_init},
      {"threads", js_threads},
      {"alignOffset", js_align_offset},
      {"setThreads", js_set_threads},
      {"isa", js_isa},
      {"bestIsa", js_best_isa},
      {"setIsa", js_set_isa},
      {"gemm", js_gemm},
      {"packedWidth", js_packed_width},
      {"packWeight", js_pack_weight},
      {"gemmPacked", js_gemm_packed},
      {"unary", js_unary},
      {"unaryBackward", js_unary_backward},
      {"binary", js_binary},
      {"where", js_where},
      {"reduce", js_reduce},
      {"argmax", js_argmax},
      {"sumSquares", js_sum_squares},
      {"copyStrided", js_copy_strided},
      {"fill", js_fill},
      {"softmax", js_softmax},
      {"softmaxBackward", js_softmax_backward},
      {"logSoftmax", js_log_softmax},
      {"logSoftmaxBackward", js_log_softmax_backward},
      {"layerNorm", js_layer_norm},
      {"layerNormBackward", js_layer_norm_backward},
      {"rmsNorm", js_rms_norm},
      {"rmsNormBackward", js_rms_norm_backward},
      {"nonzeroRows", js_nonzero_rows},
      {"gatherRows", js_gather_rows},
      {"scatterAddRows", js_scatter_add_rows},
      {"crossEntropy", js_cross_entropy},
      {"crossEntropyBackward", js_cross_entropy_backward},
      {"rope", js_rope},
      {"attention", js_attention},
      {"attentionBackward", js_attention_backward},
      {"adamw", js_adamw},
      {"sampleRows", js_sample_rows},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, functions[i].name, fn);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
