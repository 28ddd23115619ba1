// The non-GEMM kernels of the Backend interface (src/backend/backend.ts), on float32 (and int32 where
// the interface says so). Each parallelises over the shared pool when the input is large enough.
#ifndef ADAPTLM_KERNELS_H
#define ADAPTLM_KERNELS_H

#include <stdint.h>

#define ADAPTLM_MAX_DIMS 16

/* Operation codes; src/backend/native.ts maps the op names to these numbers. */
enum {
  U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_SIGMOID, U_RELU, U_GELU, U_GELU_TANH, U_SILU, U_ABS,
  U_SQUARE, U_SCALE, U_SHIFT, U_POW, U_RDIV, U_COUNT
};
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_GT, B_LT, B_COUNT };

void k_unary(int op, const float *x, float *out, long n, float alpha);
void k_unary_backward(int op, const float *x, const float *y, const float *dy, float *dx, long n, float alpha);
void k_binary(int op, const float *a, const long *as, const float *b, const long *bs, float *out,
              const long *shape, int nd);
void k_where(const void *cond, int cond_is_int, const long *cs, const float *a, const long *as, const float *b,
             const long *bs, float *out, const long *shape, int nd);
void k_reduce(int op_max, const float *x, float *out, long outer, long size, long inner);
void k_argmax(const float *x, int32_t *out, long outer, long size, long inner);
double k_sum_squares(const float *x, long n);
void k_copy_strided(const uint32_t *src, const long *ss, uint32_t *dst, const long *ds, const long *shape, int nd,
                    int same_buffer);
void k_fill(uint32_t *out, uint32_t bits, long n);

void k_softmax(const float *x, float *out, long rows, long cols);
void k_softmax_backward(const float *y, const float *dy, float *dx, long rows, long cols);
void k_log_softmax(const float *x, float *out, long rows, long cols);
void k_log_softmax_backward(const float *y, const float *dy, float *dx, long rows, long cols);
void k_layer_norm(const float *x, const float *w, const float *b, float *out, float *mean, float *rstd, long rows,
                  long cols, float eps);
void k_layer_norm_backward(const float *dy, const float *x, const float *w, const float *mean, const float *rstd,
                           float *dx, float *dw, float *db, long rows, long cols);
void k_rms_norm(const float *x, const float *w, float *out, float *rstd, long rows, long cols, float eps);
void k_rms_norm_backward(const float *dy, const float *x, const float *w, const float *rstd, float *dx, float *dw,
                         long rows, long cols);
long k_nonzero_rows(const float *x, long rows, long cols, long limit, int32_t *out);
void k_gather_rows(const float *table, const int32_t *ids, long count, float *out, long cols);
void k_scatter_add_rows(const float *dout, const int32_t *ids, long count, float *dtable, long cols, int32_t skip);
void k_cross_entropy(const float *logits, const int32_t *targets, float *losses, float *lse, long rows, long cols,
                     int32_t ignore);
void k_cross_entropy_backward(const float *logits, const int32_t *targets, const float *lse, const float *dloss,
                              float *dlogits, long rows, long cols, int32_t ignore);
void k_rope(const float *x, float *out, const int32_t *positions, const double *inv_freq, long batch, long heads,
            long seq, long head_dim, int inverse);

typedef struct {
  long batch, heads, kv_heads, tq, tk, d;
  /* positions allocated per key/value head (>= tk): a preallocated KV cache is read in place */
  long kv_stride;
  float scale;
  int causal;
  long causal_offset;
  /* sliding window (with causal): query i sees keys j with i + causal_offset - j < window; 0 = none */
  long window;
  const float *q, *k, *v, *key_bias;
  /* keys and values every batch row sees before its own, [kv_heads, shared_len, d] (a prompt prefilled once
     for several samples): scores and probs rows are then shared_len + tk wide, shared keys come first and
     are visible to every query; no key bias or window with them (the op checks) */
  const float *shared_k, *shared_v;
  long shared_len;
  float *out, *probs;
  const float *dout;
  float *dq, *dk, *dv;
  /* 0: q, k, v, out (and gradients) are [batch, heads, seq, d] blocks; 1: token rows [batch, seq, heads, d]
     (no kv_stride beyond tk, no shared keys) */
  int tokens;
} attention_args;
void k_attention(const attention_args *a);
void k_attention_backward(const attention_args *a);

/* Next-token choice per row of logits (src/backend/backend.ts SampleRowsArgs). */
void k_sample_rows(const float *logits, const double *uniforms, int32_t *tokens, double *lse, long rows, long cols,
                   double temperature);

/* One tensor of an AdamW step: its first n values of param, m and v are updated in place from grad. */
typedef struct {
  float *param, *m, *v;
  const float *grad;
  long n;
  double lr, weight_decay;
} adamw_tensor;

/* One AdamW step over `count` tensors, split into pieces across the pool. */
void k_adamw(const adamw_tensor *tensors, long count, double beta1, double beta2, double eps, double step);

#endif
