// attention_kernels.h — the three inner loops of attention over a KV cache, for the references of
// lessons 02 (contiguous cache) and 06 (paged cache): one query's scores against keys stored transposed,
// the softmax's exponentials, and the weighted sum of value rows. Given code, like linear(): the
// lessons ask for attention itself (what is scored against what, masking, GQA, the cache), not for
// these loops. Raw pointers on purpose: the callers point into cache blocks. No checks here.
#pragma once

#include <cstring>
#include <span>

#include "llm/floats8.h"
#include "llm/tensor.h"

namespace llm {

// s[j] = sum_d q[d] * kt[d * stride + j] for j < n: one query (D) against n keys stored transposed,
// (D, stride) with key j in column j. Inline, like accumulate_values: the paged cache calls both once
// per block of a few positions, where a call's fixed costs are a large part of the work.
inline void scores_transposed(const float* q, const float* kt, Index D, Index stride, Index n, float* s) {
  // Eight keys per vector, two vectors (16 keys) per round, and the D terms of each dot product in two
  // sums (even and odd d) added at the end: four independent chains of multiply-adds instead of one, so
  // that a round waits on their latency a quarter as long (a 16-position block of the paged cache is
  // exactly one round). Every key's score is summed in that same order: in the rounds of 16, the round
  // of 8 and the scalar tail alike.
  using detail::Floats8;
  Floats8 k0, k1, k2, k3;  // keys j .. j+7 or j+8 .. j+15 of one dimension, copied in with memcpy
  Index j = 0;
  for (; j + 16 <= n; j += 16) {
    Floats8 a_even = {}, a_odd = {}, b_even = {}, b_odd = {};  // keys j..j+7 (a), j+8..j+15 (b)
    Index d = 0;
    for (; d + 2 <= D; d += 2) {
      std::memcpy(&k0, kt + d * stride + j, sizeof k0);
      std::memcpy(&k1, kt + d * stride + j + 8, sizeof k1);
      std::memcpy(&k2, kt + (d + 1) * stride + j, sizeof k2);
      std::memcpy(&k3, kt + (d + 1) * stride + j + 8, sizeof k3);
      a_even += q[d] * k0;
      b_even += q[d] * k1;
      a_odd += q[d + 1] * k2;
      b_odd += q[d + 1] * k3;
    }
    if (d < D) {
      std::memcpy(&k0, kt + d * stride + j, sizeof k0);
      std::memcpy(&k1, kt + d * stride + j + 8, sizeof k1);
      a_even += q[d] * k0;
      b_even += q[d] * k1;
    }
    const Floats8 a = a_even + a_odd, b = b_even + b_odd;
    std::memcpy(s + j, &a, sizeof a);
    std::memcpy(s + j + 8, &b, sizeof b);
  }
  if (j + 8 <= n) {  // one round of 8 keys left over
    Floats8 even = {}, odd = {};
    Index d = 0;
    for (; d + 2 <= D; d += 2) {
      std::memcpy(&k0, kt + d * stride + j, sizeof k0);
      std::memcpy(&k2, kt + (d + 1) * stride + j, sizeof k2);
      even += q[d] * k0;
      odd += q[d + 1] * k2;
    }
    if (d < D) {
      std::memcpy(&k0, kt + d * stride + j, sizeof k0);
      even += q[d] * k0;
    }
    const Floats8 a = even + odd;
    std::memcpy(s + j, &a, sizeof a);
    j += 8;
  }
  for (; j < n; ++j) {  // the last n % 8 keys, in the same order
    float even = 0.0f, odd = 0.0f;
    Index d = 0;
    for (; d + 2 <= D; d += 2) {
      even += q[d] * kt[d * stride + j];
      odd += q[d + 1] * kt[(d + 1) * stride + j];
    }
    if (d < D) even += q[d] * kt[d * stride + j];
    s[j] = even + odd;
  }
}

// The numerators of a softmax, in place: w[j] = exp(w[j] - max_k w[k]); returns their sum, or 0 when
// every w[j] is -inf (nothing visible: w is left as it is). Within 1.5 ulp of exp(), exactly 0 for -inf
// (a masked key) and below exp(-87.3); a NaN anywhere makes the sum NaN.
float softmax_numerators(std::span<float> w);

// o[d] += sum_j w[j] * v[j * D + d] for j < n: n value rows (n, D), weighted, added to o (D).
inline void accumulate_values(const float* w, const float* v, Index D, Index n, float* o) {
  // Eight dimensions at a time, four rows per round into four sums: four independent chains of
  // multiply-adds, so the loop runs at the speed of its loads, not of the adder's latency.
  Index d = 0;
  for (; d + 8 <= D; d += 8) {
    detail::Floats8 a0 = {}, a1 = {}, a2 = {}, a3 = {}, x0, x1, x2, x3;
    Index j = 0;
    for (; j + 4 <= n; j += 4) {
      std::memcpy(&x0, v + j * D + d, sizeof x0);
      std::memcpy(&x1, v + (j + 1) * D + d, sizeof x1);
      std::memcpy(&x2, v + (j + 2) * D + d, sizeof x2);
      std::memcpy(&x3, v + (j + 3) * D + d, sizeof x3);
      a0 += w[j] * x0;
      a1 += w[j + 1] * x1;
      a2 += w[j + 2] * x2;
      a3 += w[j + 3] * x3;
    }
    for (; j < n; ++j) {
      std::memcpy(&x0, v + j * D + d, sizeof x0);
      a0 += w[j] * x0;
    }
    detail::Floats8 out;
    std::memcpy(&out, o + d, sizeof out);
    out += (a0 + a1) + (a2 + a3);
    std::memcpy(o + d, &out, sizeof out);
  }
  for (; d < D; ++d) {  // the last D % 8 dimensions
    float acc = 0.0f;
    for (Index j = 0; j < n; ++j) acc += w[j] * v[j * D + d];
    o[d] += acc;
  }
}

}  // namespace llm
