// eigen_view.h — zero-copy Eigen views of llm::Tensor data, for the .cpp files that do the math.
// Kept out of tensor.h on purpose: Eigen headers are heavy and most files never need them.
// Never bind an Eigen expression to `auto` (it stays lazy and can dangle); evaluate into a typed object.
#pragma once

#include <Eigen/Core>
#include <span>

#include "llm/tensor.h"

namespace llm {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;
using VectorMap = Eigen::Map<Eigen::VectorXf>;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXf>;

// The whole tensor as a matrix: (numel / last_dim, last_dim). A (B, T, C) activation becomes (B*T, C).
inline MatrixMap as_matrix(Tensor& t) {
  const Index cols = t.size(t.rank() - 1);
  return {t.data(), cols ? t.numel() / cols : 0, cols};
}
inline ConstMatrixMap as_matrix(const Tensor& t) {
  const Index cols = t.size(t.rank() - 1);
  return {t.data(), cols ? t.numel() / cols : 0, cols};
}

// A raw (rows, cols) block of floats, e.g. one (capacity, head_dim) KV-cache block.
inline MatrixMap as_matrix(float* data, Index rows, Index cols) { return {data, rows, cols}; }
inline ConstMatrixMap as_matrix(const float* data, Index rows, Index cols) { return {data, rows, cols}; }

inline VectorMap as_vector(std::span<float> v) { return {v.data(), static_cast<Index>(v.size())}; }
inline ConstVectorMap as_vector(std::span<const float> v) {
  return {v.data(), static_cast<Index>(v.size())};
}

}  // namespace llm
