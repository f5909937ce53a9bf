// ops.cpp — the shared numeric ops, on Eigen views of Tensor buffers.
#include "llm/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "llm/eigen_view.h"

namespace llm {

Tensor linear(const Tensor& x, const Tensor& weight) {
  if (weight.rank() != 2) fail<ShapeError>("linear weight must be (out, in), got ", weight.shape().str());
  if (x.rank() < 1 || x.size(x.rank() - 1) != weight.size(1))
    fail<ShapeError>("linear input ", x.shape().str(), " does not end in in_features = ", weight.size(1));
  const Index out_features = weight.size(0);
  Shape out_shape;
  switch (x.rank()) {
    case 1: out_shape = Shape{out_features}; break;
    case 2: out_shape = Shape{x.size(0), out_features}; break;
    case 3: out_shape = Shape{x.size(0), x.size(1), out_features}; break;
    default: out_shape = Shape{x.size(0), x.size(1), x.size(2), out_features}; break;
  }
  Tensor y(out_shape, kUninitialized);  // every element is written by the product below
  const ConstMatrixMap xm = as_matrix(x);        // (N, in)
  const ConstMatrixMap wm = as_matrix(weight);   // (out, in)
  MatrixMap ym = as_matrix(y);                   // (N, out)
  if (xm.rows() == 1) {
    // One token (the decode step): a matrix-vector product W x. Eigen's general matrix-matrix path
    // would re-pack W into cache blocks on every call, which costs more than the product itself.
    ym.row(0).transpose().noalias() = wm * xm.row(0).transpose();
  } else {
    // Many tokens (a prompt, or recomputation): one matrix-matrix product for all of them at once.
    ym.noalias() = xm * wm.transpose();
  }
  return y;
}

void softmax_inplace(std::span<float> row) {
  VectorMap v = as_vector(row);
  // PropagateNaN: Eigen's default maxCoeff skips a NaN anywhere but at index 0.
  const float max = v.maxCoeff<Eigen::PropagateNaN>();
  if (std::isnan(max)) fail<InvalidArgument>("softmax of a row that contains NaN");
  if (max == std::numeric_limits<float>::infinity())
    fail<InvalidArgument>("softmax of a row that contains +inf (inf - inf would be NaN)");
  if (max == -std::numeric_limits<float>::infinity())
    fail<InvalidArgument>("softmax of a row of ", row.size(), " values that are all -inf");
  // Subtract the max for stability: exp() of the largest entry is exp(0) = 1, nothing overflows.
  v = (v.array() - max).exp();
  v /= v.sum();
}

Tensor softmax(Tensor x) {
  const Index cols = x.size(x.rank() - 1);
  for (Index i = 0; i < x.numel(); i += cols) softmax_inplace({x.data() + i, static_cast<size_t>(cols)});
  return x;
}

static void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  if (!(a.shape() == b.shape()))
    fail<ShapeError>(op, ": shapes ", a.shape().str(), " and ", b.shape().str(), " differ");
}

Tensor add(Tensor a, const Tensor& b) {
  add_inplace(a, b);
  return a;
}

void add_inplace(Tensor& a, const Tensor& b) {
  check_same_shape(a, b, "add");
  as_matrix(a) += as_matrix(b);
}

Tensor mul(Tensor a, const Tensor& b) {
  check_same_shape(a, b, "mul");
  as_matrix(a).array() *= as_matrix(b).array();
  return a;
}

Index argmax(std::span<const float> values) {
  if (values.empty()) fail<InvalidArgument>("argmax of an empty row");
  // The largest value first (a vectorised sweep that lets a NaN through), then the first index that
  // holds it: ties keep the lowest index.
  const float best = as_vector(values).maxCoeff<Eigen::PropagateNaN>();
  if (std::isnan(best)) {
    const auto nan = std::find_if(values.begin(), values.end(), [](float v) { return std::isnan(v); });
    fail<InvalidArgument>("argmax: value at index ", nan - values.begin(), " is NaN");
  }
  return std::find(values.begin(), values.end(), best) - values.begin();
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  check_same_shape(a, b, "max_abs_diff");
  if (a.numel() == 0) return 0.0f;
  // PropagateNaN: a NaN anywhere must not read as "identical".
  return (as_matrix(a) - as_matrix(b)).cwiseAbs().maxCoeff<Eigen::PropagateNaN>();
}

}  // namespace llm
