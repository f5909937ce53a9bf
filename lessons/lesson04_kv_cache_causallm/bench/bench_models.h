// bench_models.h — the models the benchmarks of lessons 04, 06 and 07 run on (stories260K and the
// random 15M-shape models), each built once per process, and the rule that turns a missing model or an
// exception from the code under test into a skipped row. Not here: the benchmarks themselves.
#pragma once

#include <benchmark/benchmark.h>

#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "causal_lm.h"
#include "llm/checkpoint.h"
#include "llm/errors.h"
#include "llm/model_files.h"

namespace llm::bench {

// kRandomMHA / kRandomGQA: llama2.c's stories15M shape with 6 and 2 KV heads (lesson 04's
// "s15Mshape_mha" and "s15Mshape_gqa").
enum class ModelId { kStories260K, kRandomMHA, kRandomGQA };

// llama2.c's stories15M shape (hidden 288, 6 layers, 6 heads, SwiGLU 768) with a 4096-token vocabulary
// instead of 32000 (the LM head would otherwise dominate and make the uncached sweep take minutes) and
// 1024 positions, so that BOS + 512 new tokens fit. Random weights, seed 0: speed does not depend on them.
inline ModelConfig random_15m_shape(int kv_heads) {
  ModelConfig c;
  c.vocab_size = 4096;
  c.hidden_size = 288;
  c.intermediate_size = 768;
  c.num_hidden_layers = 6;
  c.num_attention_heads = 6;
  c.num_key_value_heads = kv_heads;  // 6: multi-head attention; 2: grouped-query, 3 query heads per KV head
  c.max_position_embeddings = 1024;
  c.rms_norm_eps = 1e-5f;
  return c;
}

struct Loaded {
  std::unique_ptr<CausalLM> model;
  std::string error;  // why `model` is null: the file is missing, or the code under test threw
};

inline Loaded load(ModelId id) {
  Loaded out;
  try {
    switch (id) {
      case ModelId::kStories260K: {
        const std::optional<ModelFiles> files = find_model();
        if (!files) {
          out.error = "stories260K not found (./llm model downloads it)";
          return out;
        }
        out.model = std::make_unique<CausalLM>(CausalLM::from_checkpoint(load_checkpoint(files->checkpoint)));
        break;
      }
      case ModelId::kRandomMHA:
        out.model = std::make_unique<CausalLM>(random_15m_shape(6), 0);
        break;
      case ModelId::kRandomGQA:
        out.model = std::make_unique<CausalLM>(random_15m_shape(2), 0);
        break;
    }
  } catch (const std::exception& e) {  // llm::Error from a stub, or a student's std::out_of_range
    out.model.reset();
    out.error = e.what();
  }
  return out;
}

// Each model is built once per process, on first use (single-threaded benchmarks: no locking needed).
inline const Loaded& loaded(ModelId id) {
  static Loaded models[3];
  static bool done[3] = {false, false, false};
  const auto i = static_cast<size_t>(id);
  if (!done[i]) {
    models[i] = load(id);
    done[i] = true;
  }
  return models[i];
}

// Runs `body()`; any exception (llm::NotImplemented from a student's stub, a ShapeError, a
// std::out_of_range from a bug) becomes a skipped row with its message.
template <typename Body>
void run_or_skip(benchmark::State& state, Body body) {
  try {
    body();
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("unexpected exception (not an llm::Error): ") + e.what()).c_str());
  }
}

// Runs `body(model)`; a missing model is a skipped row too.
template <typename Body>
void with_model(benchmark::State& state, ModelId id, Body body) {
  const Loaded& m = loaded(id);
  if (!m.model) {
    state.SkipWithError(m.error.c_str());
    return;
  }
  run_or_skip(state, [&] { body(*m.model); });
}

}  // namespace llm::bench
