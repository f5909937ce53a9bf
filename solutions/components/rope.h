// rope.h — rotary position embedding with a precomputed cos/sin table.
//
// Two conventions pair the dimensions of a head differently:
//   kAdjacentPairs: rotate (x[2i], x[2i+1]) by angle pos * theta^(-2i/D)   — llama2.c / Meta's
//                   original Llama; the stories260K checkpoint was trained with it.
//   kHalfSplit:     rotate (x[i], x[i + D/2]) by the same angle            — Hugging Face's
//                   rotate_half. HF checkpoints permute the rows of Wq/Wk so the two agree.
// Using the wrong one on a checkpoint gives fluent-looking garbage, so the convention is explicit.
#pragma once

#include <span>

#include "llm/tensor.h"

namespace llm {

enum class RopeConvention { kAdjacentPairs, kHalfSplit };

class RotaryEmbedding {
 public:
  RotaryEmbedding() = default;
  RotaryEmbedding(Index head_dim, Index max_positions, float theta,
                  RopeConvention convention = RopeConvention::kAdjacentPairs);

  Index head_dim() const { return head_dim_; }
  Index max_positions() const { return max_positions_; }
  RopeConvention convention() const { return convention_; }

  // Rotate one head vector (D floats) in place for position pos. InvalidArgument when pos is outside
  // [0, max_positions).
  void rotate(std::span<float> head, Index pos) const;

  // Rotate every head of x (B, T, n_heads * D) in place; positions: (B, T).
  void apply(Tensor& x, const IdTensor& positions, Index n_heads) const;

 private:
  Index head_dim_ = 0;
  Index max_positions_ = 0;
  RopeConvention convention_ = RopeConvention::kAdjacentPairs;
  Tensor cos_;  // (max_positions, D/2)
  Tensor sin_;  // (max_positions, D/2)
};

}  // namespace llm
