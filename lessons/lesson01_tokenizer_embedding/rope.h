// rope.h — lesson 01's contract, part 3: rotary position embedding (RoPE) with a precomputed cos/sin
// table, in the two conventions checkpoints use. Not here: RoPE scaling (NTK, YaRN, linear), partial
// rotary dimensions, M-RoPE.
//
// Pair i of a head (D dimensions, D/2 pairs) is rotated by the angle pos * theta^(-2i/D). The two
// conventions differ only in which dimensions form pair i:
//   kAdjacentPairs: (x[2i], x[2i+1])      — llama2.c and Meta's original Llama; stories260K uses it.
//   kHalfSplit:     (x[i], x[i + D/2])     — Hugging Face's rotate_half. HF checkpoints permute the
//                   rows of Wq/Wk per head (adjacent_to_half_split) so both give the same attention.
// Using the wrong one on a checkpoint gives fluent-looking garbage, so the convention is explicit.
//
// Dimension legend (docs/dimensions.md): B batch, T tokens, D head_dim.
#pragma once

#include <span>
#include <vector>

#include "llm/tensor.h"

namespace llm {

enum class RopeConvention { kAdjacentPairs, kHalfSplit };

// theta^(-2i/D) for i in [0, D/2), in double: the angle pair i turns by per position.
std::vector<double> rope_inverse_frequencies(Index head_dim, float theta);

class RotaryEmbedding {
 public:
  RotaryEmbedding() = default;
  // Precomputes cos/sin of pos * inv_freq[i] for pos in [0, max_positions). InvalidArgument (given
  // check_rope_arguments) when head_dim is odd or <= 0, max_positions <= 0, or theta not finite > 0.
  RotaryEmbedding(Index head_dim, Index max_positions, float theta,
                  RopeConvention convention = RopeConvention::kAdjacentPairs);

  Index head_dim() const { return head_dim_; }
  Index max_positions() const { return max_positions_; }  // positions in the table
  float theta() const { return theta_; }
  RopeConvention convention() const { return convention_; }
  const Tensor& cos_table() const { return cos_; }  // (max_positions, D/2)
  const Tensor& sin_table() const { return sin_; }  // (max_positions, D/2)

  // Rotate one head vector (D floats) in place for position pos >= 0. The table is a cache, not a
  // limit: a position at or beyond max_positions gets its cos/sin computed on the spot, equal to what
  // a longer table would hold. InvalidArgument for a negative position; ShapeError unless size D.
  void rotate(std::span<float> head, Index pos) const;

  // Rotate every head of x (B, T, n_heads * D) in place; positions: (B, T). Given: it only walks the
  // heads and calls rotate().
  void apply(Tensor& x, const IdTensor& positions, Index n_heads) const;

 private:
  Index head_dim_ = 0;
  Index max_positions_ = 0;
  float theta_ = 10000.0f;
  RopeConvention convention_ = RopeConvention::kAdjacentPairs;
  std::vector<double> inv_freq_;  // (D/2)
  Tensor cos_;                    // (max_positions, D/2)
  Tensor sin_;                    // (max_positions, D/2)
};

// Given: InvalidArgument naming the value when the RoPE arguments are unusable.
void check_rope_arguments(Index head_dim, Index max_positions, float theta);

// The relation between the conventions. P maps a head from the adjacent-pairs order to the half-split
// order: out[i] = head[2i] and out[i + D/2] = head[2i + 1]. Then, for every position,
//   rotate_half_split(P x) = P rotate_adjacent(x),
// which is why permuting the rows of Wq and Wk (head by head) converts a checkpoint between them.
// InvalidArgument naming the size when head is empty or of odd size.
std::vector<float> adjacent_to_half_split(std::span<const float> head);

}  // namespace llm
