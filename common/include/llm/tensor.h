// tensor.h — a small owning tensor: contiguous, row-major, rank 1 to 4, float or int32.
// Deliberately not a framework: no autograd, no strides, no broadcasting. Math goes through Eigen
// views (eigen_view.h), which this header does not include so that most files compile fast.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "llm/errors.h"
#include "llm/limits.h"

namespace llm {

using Index = std::int64_t;

// The dimensions of a tensor, outermost first. Rank 0 is the empty "no tensor" state.
class Shape {
 public:
  static constexpr int kMaxRank = kMaxTensorRank;  // llm/limits.h: rank 1 to 4, at most 2^36 elements

  Shape() = default;
  Shape(std::initializer_list<Index> dims);

  int rank() const { return rank_; }
  // Inline: tensor code asks for dimensions in its inner loops.
  Index operator[](int axis) const {
    if (axis < 0 || axis >= rank_) axis_out_of_range(axis);
    return dims_[static_cast<size_t>(axis)];
  }
  Index numel() const;
  std::string str() const;  // "(2, 16, 1000)"

  friend bool operator==(const Shape& a, const Shape& b);

 private:
  [[noreturn]] void axis_out_of_range(int axis) const;
  std::array<Index, kMaxRank> dims_{};
  int rank_ = 0;
};

std::ostream& operator<<(std::ostream& out, const Shape& shape);

// An allocator that leaves new elements uninitialised unless a value is given, so that a tensor about
// to be overwritten completely (a matrix product's output, weights read from a file) is not zero-filled
// first. Every other construction still value-initialises.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;  // default-initialised: no value written for float or int
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// Tag for BasicTensor's constructor that leaves the values unset (see DefaultInitAllocator).
struct Uninitialized {};
inline constexpr Uninitialized kUninitialized{};

#ifdef NDEBUG
#define LLM_DEBUG_INDEX_CHECK(expr) ((void)0)
#else
#define LLM_DEBUG_INDEX_CHECK(expr) (expr)
#endif

template <typename T>
class BasicTensor {
 public:
  using value_type = T;

  BasicTensor() = default;
  explicit BasicTensor(const Shape& shape, T fill = T{}) : shape_(shape), data_(shape.numel(), fill) {}
  // Values left unset, for a tensor every element of which is written next: Tensor(shape, kUninitialized).
  BasicTensor(const Shape& shape, Uninitialized) : shape_(shape) { data_.resize(static_cast<size_t>(shape.numel())); }
  // Values in row-major order; their count must equal the shape's element count.
  BasicTensor(const Shape& shape, const std::vector<T>& values) : shape_(shape), data_(values.begin(), values.end()) {
    if (static_cast<Index>(data_.size()) != shape_.numel())
      fail<ShapeError>("tensor of shape ", shape_.str(), " needs ", shape_.numel(), " values, got ",
                       data_.size());
  }

  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  Index size(int axis) const { return shape_[axis]; }
  Index numel() const { return static_cast<Index>(data_.size()); }
  bool empty() const { return data_.empty(); }

  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  std::span<T> flat() { return data_; }
  std::span<const T> flat() const { return data_; }

  // Element access. The rank must match; bounds are checked in debug builds only (hot loops use it).
  T& operator()(Index i) { return data_[offset(i)]; }
  T& operator()(Index i, Index j) { return data_[offset(i, j)]; }
  T& operator()(Index i, Index j, Index k) { return data_[offset(i, j, k)]; }
  T& operator()(Index i, Index j, Index k, Index l) { return data_[offset(i, j, k, l)]; }
  const T& operator()(Index i) const { return data_[offset(i)]; }
  const T& operator()(Index i, Index j) const { return data_[offset(i, j)]; }
  const T& operator()(Index i, Index j, Index k) const { return data_[offset(i, j, k)]; }
  const T& operator()(Index i, Index j, Index k, Index l) const { return data_[offset(i, j, k, l)]; }

  // Zero-copy view of the innermost row selected by the leading indices: row(b, t) of a (B, T, V)
  // tensor is the V logits of token t of batch row b.
  template <typename... I>
  std::span<T> row(I... lead) {
    static_assert(sizeof...(I) >= 1);
    return {data_.data() + row_offset(lead...), static_cast<size_t>(shape_[shape_.rank() - 1])};
  }
  template <typename... I>
  std::span<const T> row(I... lead) const {
    static_assert(sizeof...(I) >= 1);
    return {data_.data() + row_offset(lead...), static_cast<size_t>(shape_[shape_.rank() - 1])};
  }

  void fill(T value) { std::fill(data_.begin(), data_.end(), value); }

  // Same data, new shape with the same element count (moves the buffer, no copy).
  BasicTensor reshaped(const Shape& shape) && {
    if (shape.numel() != numel())
      fail<ShapeError>("cannot reshape ", shape_.str(), " to ", shape.str());
    BasicTensor out;
    out.shape_ = shape;
    out.data_ = std::move(data_);
    return out;
  }

 private:
  void check_rank(int r) const {
    if (shape_.rank() != r)
      fail<ShapeError>("indexed a rank-", shape_.rank(), " tensor ", shape_.str(), " with ", r,
                       " indices");
  }
  void check_bound(int axis, Index i) const {
    if (i < 0 || i >= shape_[axis])
      fail<ShapeError>("index ", i, " on axis ", axis, " is out of range for shape ", shape_.str());
  }
  Index offset(Index i) const {
    LLM_DEBUG_INDEX_CHECK((check_rank(1), check_bound(0, i)));
    return i;
  }
  Index offset(Index i, Index j) const {
    LLM_DEBUG_INDEX_CHECK((check_rank(2), check_bound(0, i), check_bound(1, j)));
    return i * shape_[1] + j;
  }
  Index offset(Index i, Index j, Index k) const {
    LLM_DEBUG_INDEX_CHECK((check_rank(3), check_bound(0, i), check_bound(1, j), check_bound(2, k)));
    return (i * shape_[1] + j) * shape_[2] + k;
  }
  Index offset(Index i, Index j, Index k, Index l) const {
    LLM_DEBUG_INDEX_CHECK((check_rank(4), check_bound(0, i), check_bound(1, j), check_bound(2, k),
                           check_bound(3, l)));
    return ((i * shape_[1] + j) * shape_[2] + k) * shape_[3] + l;
  }
  template <typename... I>
  Index row_offset(I... lead) const {
    constexpr int n = sizeof...(I);
    if (shape_.rank() != n + 1)
      fail<ShapeError>("row() of a rank-", shape_.rank(), " tensor ", shape_.str(), " takes ",
                       shape_.rank() - 1, " indices, got ", n);
    const Index idx[] = {static_cast<Index>(lead)...};
    Index off = 0;
    for (int a = 0; a < n; ++a) {
      if (idx[a] < 0 || idx[a] >= shape_[a])
        fail<ShapeError>("row index ", idx[a], " on axis ", a, " is out of range for shape ",
                         shape_.str());
      off = off * shape_[a] + idx[a];
    }
    return off * shape_[n];
  }

  Shape shape_;
  std::vector<T, DefaultInitAllocator<T>> data_;
};

using Tensor = BasicTensor<float>;          // activations, weights, logits
using IdTensor = BasicTensor<std::int32_t>;  // token ids, positions, masks (B, T)

// Build a (B, T) id tensor from rows of equal length; a convenience for tests and tools.
IdTensor make_ids(const std::vector<std::vector<std::int32_t>>& rows);

}  // namespace llm
