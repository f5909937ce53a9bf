// ops.cpp — the shared numeric ops, on Eigen views of Tensor buffers.
#include "llm/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "llm/eigen_view.h"
#include "llm/floats8.h"

namespace llm {

// Up to this many rows, linear() reads each weight row once and dots it with every input row (below);
// from here on Eigen's matrix-matrix product, whose packing of W into cache blocks then pays off.
// Measured on the 15M-shape model's matrices (docs/benchmarks.md, lesson 07): the row kernel is 2x
// faster than Eigen's product at 2-16 rows, level at 32, slower from 64 on.
constexpr Index kFewRows = 32;

using Lanes = detail::Floats8;  // eight floats of g++'s vector type (llm/floats8.h)
constexpr Index kLanes = detail::kFloats8Lanes;

// y (N, out) = x (N, in) W^T for a few rows (2 <= N <= kFewRows): a batch of decode steps. W is read
// once, row by row; while a row of W sits in L1 it is dotted with eight input rows at a time — eight
// independent sums, so the multiply-adds do not wait for each other and each load of W serves eight
// of them. (A block of fewer rows repeats its last row: a little redundant work, no special case.)
// Every output is summed in the same order whatever N is.
static void linear_few_rows(const float* x, const float* w, float* y, Index N, Index in, Index out) {
  constexpr Index kBlock = 8;
  const Index vectorised = in - in % kLanes;
  for (Index j = 0; j < out; ++j) {
    const float* wj = w + j * in;
    for (Index i = 0; i < N; i += kBlock) {
      const Index rows = std::min(kBlock, N - i);
      const float* xr[kBlock];
      for (Index r = 0; r < kBlock; ++r) xr[r] = x + (i + std::min(r, rows - 1)) * in;
      Lanes acc[kBlock] = {}, wv, v;
      for (Index k = 0; k < vectorised; k += kLanes) {
        std::memcpy(&wv, wj + k, sizeof wv);
        for (Index r = 0; r < kBlock; ++r) {
          std::memcpy(&v, xr[r] + k, sizeof v);
          acc[r] += v * wv;
        }
      }
      for (Index r = 0; r < rows; ++r) {
        float sum = 0.0f;
        for (Index l = 0; l < kLanes; ++l) sum += acc[r][l];
        for (Index k = vectorised; k < in; ++k) sum += xr[r][k] * wj[k];  // the last in % 8 terms
        y[(i + r) * out + j] = sum;
      }
    }
  }
}

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
  } else if (xm.rows() <= kFewRows) {
    // A few tokens (continuous batching's decode steps): every weight read once for all of them, as in
    // the matrix-vector case, without re-packing W for so few rows (kFewRows).
    linear_few_rows(x.data(), weight.data(), y.data(), xm.rows(), xm.cols(), out_features);
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
