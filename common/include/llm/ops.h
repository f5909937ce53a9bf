// ops.h — the numeric building blocks every lesson shares: linear, softmax, elementwise add/mul and
// argmax. What a lesson asks students to write (embedding lookup, RMSNorm, SiLU, the loss...)
// is not here: it lives in that lesson's reference, once. Each works on the last dimension and checks shapes.
// Implemented with Eigen where Eigen does the job (ops.cpp); no autograd, float32 only.
#pragma once

#include <cstdint>
#include <span>

#include "llm/tensor.h"

namespace llm {

// y = x W^T with W stored (out, in) like a PyTorch nn.Linear weight.
// x: (..., in) -> (..., out). Leading dimensions are kept.
Tensor linear(const Tensor& x, const Tensor& weight);

// Softmax over the last dimension. Subtracts the row max first, so logits of 1e4 do not overflow;
// entries of -inf get probability 0. A row that is entirely -inf is an InvalidArgument.
void softmax_inplace(std::span<float> row);
Tensor softmax(Tensor x);

// Elementwise, same shape required (no broadcasting).
Tensor add(Tensor a, const Tensor& b);
Tensor mul(Tensor a, const Tensor& b);
void add_inplace(Tensor& a, const Tensor& b);

// Index of the largest value; ties go to the lowest index. NaN is an InvalidArgument.
Index argmax(std::span<const float> values);

// Largest |a - b| over all elements (shapes must match). For tests and comparisons.
float max_abs_diff(const Tensor& a, const Tensor& b);

// Throws ShapeError unless t has exactly this shape; `what` names the tensor in the message.
template <typename T>
void check_shape(const BasicTensor<T>& t, const Shape& expected, const char* what) {
  if (!(t.shape() == expected))
    fail<ShapeError>(what, " has shape ", t.shape().str(), ", expected ", expected.str());
}

}  // namespace llm
