// checkpoint.h — read a llama2.c "version 0" checkpoint (stories260K.bin) into named weight tensors.
// The format is described in ../shared/models/stories260K/SOURCE.md. Read-only: no writer here
// except the small one tests use to make corrupt copies. Legacy RoPE tables are skipped, not kept.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "llm/config.h"
#include "llm/limits.h"
#include "llm/tensor.h"

namespace llm {

// The 7 int32 header fields, as stored (vocab_size may be negative: separate classifier).
struct CheckpointHeader {
  int dim = 0;         // C
  int hidden_dim = 0;  // F
  int n_layers = 0;    // L
  int n_heads = 0;     // H
  int n_kv_heads = 0;  // KV
  int vocab_size = 0;  // V, negative when wcls follows the RoPE tables
  int seq_len = 0;     // max positions
};

// One decoder layer's weights, each stored (out_features, in_features).
struct LayerWeights {
  Tensor rms_att;  // (C,)
  Tensor wq;       // (H*D, C)
  Tensor wk;       // (KV*D, C)
  Tensor wv;       // (KV*D, C)
  Tensor wo;       // (C, H*D)
  Tensor rms_ffn;  // (C,)
  Tensor w1;       // (F, C)  gate
  Tensor w2;       // (C, F)  down
  Tensor w3;       // (F, C)  up
};

// All weights of a checkpoint, read-only after loading.
struct CheckpointWeights {
  Tensor token_embedding;      // (V, C)
  std::vector<LayerWeights> layers;
  Tensor rms_final;            // (C,)
  std::optional<Tensor> wcls;  // (V, C) only when the header's vocab_size is negative
};

struct Checkpoint {
  CheckpointHeader header;
  ModelConfig config;  // derived from the header: stories260K's eps 1e-5, theta 1e4, tied unless wcls
  CheckpointWeights weights;
};

// Reads and validates the header (positive, divisible, below the model limits of llm/limits.h: dim,
// hidden_dim and heads kMaxHiddenSize, n_layers kMaxLayers, |vocab_size| kMaxVocabSize, seq_len
// kMaxPositions) and checks that the file's size equals exactly what the header implies — before allocating. Throws FormatError naming the field
// or the byte counts; IoError when the file cannot be opened.
Checkpoint load_checkpoint(const std::filesystem::path& path);

// The number of bytes a checkpoint with this header must have (header included).
std::uint64_t expected_checkpoint_bytes(const CheckpointHeader& header);

}  // namespace llm
