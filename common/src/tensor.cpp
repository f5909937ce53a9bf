// tensor.cpp — Shape printing and validation, and the id-batch helper.
#include "llm/tensor.h"

#include <ostream>
#include <sstream>

namespace llm {

Shape::Shape(std::initializer_list<Index> dims) {
  if (dims.size() < 1 || dims.size() > static_cast<size_t>(kMaxRank))
    fail<ShapeError>("tensor rank ", dims.size(), " is out of range [1, ", kMaxRank, "]");
  Index numel = 1;
  for (Index d : dims) {
    if (d < 0) fail<ShapeError>("tensor dimension ", d, " must be >= 0");
    // Refuse element counts that overflow (or that no machine of ours could hold) before any
    // allocation is attempted with a wrapped-around size.
    if (__builtin_mul_overflow(numel, d, &numel) || numel > kMaxTensorElements)
      fail<ShapeError>("tensor shape: dimension ", d, " at axis ", rank_, " takes the element count past ",
                       kMaxTensorElements);
    dims_[static_cast<size_t>(rank_++)] = d;
  }
}

void Shape::axis_out_of_range(int axis) const {
  fail<ShapeError>("axis ", axis, " is out of range for shape ", str());
}

Index Shape::numel() const {
  if (rank_ == 0) return 0;
  Index n = 1;
  for (int a = 0; a < rank_; ++a) n *= dims_[static_cast<size_t>(a)];
  return n;
}

std::string Shape::str() const {
  std::ostringstream out;
  out << '(';
  for (int a = 0; a < rank_; ++a) out << (a ? ", " : "") << dims_[static_cast<size_t>(a)];
  out << ')';
  return out.str();
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i)
    if (a.dims_[static_cast<size_t>(i)] != b.dims_[static_cast<size_t>(i)]) return false;
  return true;
}

std::ostream& operator<<(std::ostream& out, const Shape& shape) { return out << shape.str(); }

IdTensor make_ids(const std::vector<std::vector<std::int32_t>>& rows) {
  if (rows.empty() || rows[0].empty())
    fail<ShapeError>("make_ids needs at least one non-empty row, got ", rows.size(), " rows");
  const auto T = static_cast<Index>(rows[0].size());
  IdTensor ids(Shape{static_cast<Index>(rows.size()), T});
  for (size_t b = 0; b < rows.size(); ++b) {
    if (static_cast<Index>(rows[b].size()) != T)
      fail<ShapeError>("make_ids: row ", b, " has ", rows[b].size(), " ids, row 0 has ", T);
    for (Index t = 0; t < T; ++t) ids(static_cast<Index>(b), t) = rows[b][static_cast<size_t>(t)];
  }
  return ids;
}

}  // namespace llm
