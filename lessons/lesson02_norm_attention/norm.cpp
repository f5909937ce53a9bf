// norm.cpp — YOUR lesson 02 work, exercise 1: RMSNorm and LayerNorm over the last dimension. Each TODO
// is a step of README.md; each throws until you write it.
// The reference is solutions/lesson02_norm_attention/norm.cpp — try before you look.
//
// Legend: C hidden_size; every other dimension is just "rows" (a (B, T, C) input is B*T rows of C).
#include "norm.h"

#include "llm/errors.h"

namespace llm {

Tensor RMSNorm::forward(const Tensor& x) const {
  // TODO(step 1): ShapeError unless weight is (C,) with C = the last dimension of x (name both shapes).
  //   Then for each row of C values: ms = mean(x^2) (sum of squares / C); y = x / sqrt(ms + eps) * weight.
  //   No mean is subtracted and there is no bias. eps goes inside the square root.
  (void)x;
  throw NotImplemented("lesson02 step 1: RMSNorm (x / sqrt(mean(x^2) + eps) * weight)");
}

Tensor LayerNorm::forward(const Tensor& x) const {
  // TODO(step 2): ShapeError unless weight and bias are both (C,) with C = the last dimension of x.
  //   Then for each row: mean = sum(x) / C; var = sum((x - mean)^2) / C — the biased variance, divided
  //   by C, not C - 1; y = (x - mean) / sqrt(var + eps) * weight + bias.
  (void)x;
  throw NotImplemented("lesson02 step 2: LayerNorm (biased variance, weight and bias)");
}

}  // namespace llm
