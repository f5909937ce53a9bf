// embedding.h — lesson 01's contract, part 2: token embedding lookup and the sinusoidal positional
// encoding of the original Transformer (which Llama replaces by RoPE, rope.h; it is here to compare).
// Not here: learned positional embeddings, embedding scaling (Gemma's sqrt(C)), padding_idx.
//
// Dimension legend (docs/dimensions.md): B batch, T tokens, V vocab_size, C hidden_size, P positions.
#pragma once

#include <memory>

#include "llm/rng.h"
#include "llm/tensor.h"

namespace llm {

// Token embedding: row id of a (V, C) table is the vector of token id. The table lives behind
// shared_ptr so a tied LM head can use the same matrix (lesson 04).
struct Embedding {
  std::shared_ptr<Tensor> weight;  // (V, C)

  Embedding() = default;
  explicit Embedding(Tensor w) : weight(std::make_shared<Tensor>(std::move(w))) {}
  // N(0, std^2) initialisation drawn from rng, row by row (given).
  static Embedding random(Index vocab, Index hidden, Rng& rng, float std);

  Index num_embeddings() const { return weight->size(0); }
  Index embedding_dim() const { return weight->size(1); }

  // (B, T) ids -> (B, T, C): out[b][t] = weight row ids[b][t]. InvalidArgument naming the id, its
  // place and V for an id outside [0, V); ShapeError when ids is not (B, T).
  Tensor forward(const IdTensor& ids) const;
};

// The sinusoidal table of "Attention Is All You Need": (P, C) with, for i in [0, C/2),
//   pe[pos][2i] = sin(pos / base^(2i/C)),  pe[pos][2i+1] = cos(pos / base^(2i/C)).
// It is added to the token embeddings (no weights to learn). InvalidArgument when positions <= 0, dim
// is odd or <= 0, or base is not finite and > 1.
Tensor sinusoidal_positional_encoding(Index positions, Index dim, float base = 10000.0f);

}  // namespace llm
