// limits.h — every size limit the project enforces, and the overflow-checked arithmetic that applies
// them, in one place. A value past a limit is an input mistake (a typo, a corrupt header, a hostile
// file), refused with its name before anything is allocated; a size computed from such values must
// not wrap around on its way to that check. Not here: the sampling parameters' ranges (sampler.h).
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>

#include "llm/errors.h"

namespace llm {

// Model sizes (ModelConfig::validate, the checkpoint header, the tokenizer file): a CPU course model.
inline constexpr int kMaxVocabSize = 1 << 20;
inline constexpr int kMaxHiddenSize = 1 << 16;                        // also intermediate_size, heads
inline constexpr int kMaxLayers = 1024;
inline constexpr int kMaxPositions = 1 << 20;                         // max_position_embeddings, seq_len
inline constexpr std::int64_t kMaxParameters = std::int64_t{1} << 31;  // 8 GiB of float32 weights

// One tensor: rank 1 to 4 and at most 2^36 elements (256 GiB of float32, beyond any use here).
inline constexpr int kMaxTensorRank = 4;
inline constexpr std::int64_t kMaxTensorElements = std::int64_t{1} << 36;

// A tokenizer piece: no real tokenizer comes close (tok512: 7 bytes, Llama 2's 32k vocabulary: 16).
inline constexpr int kMaxPieceBytes = 1024;

// a * b and a + b for a, b >= 0, or an E naming `what` when a factor is negative or the result does
// not fit in 64 bits: a long context or a hostile header must be refused, never wrapped around.
template <typename E = InvalidArgument>
std::int64_t checked_mul(std::int64_t a, std::int64_t b, std::string_view what) {
  std::int64_t out = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &out))
    fail<E>(what, ": ", a, " x ", b, " does not fit in 64 bits (max ", std::numeric_limits<std::int64_t>::max(),
            ")");
  return out;
}

template <typename E = InvalidArgument>
std::int64_t checked_add(std::int64_t a, std::int64_t b, std::string_view what) {
  std::int64_t out = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &out))
    fail<E>(what, ": ", a, " + ", b, " does not fit in 64 bits (max ", std::numeric_limits<std::int64_t>::max(),
            ")");
  return out;
}

}  // namespace llm
