// probes_lesson04.cpp — the first half of `./llm compare lesson04`: one call into each function of the
// lesson on fixed inputs (positions, mask, the loss, every step of the sampler, then the model on the
// lesson config and generate), so a student sees matches and differences from the first step on — the
// sampler needs no model. compare.py then runs the model side by side token by token (compare_dump.cpp)
// once the student's model builds and runs.
// Not here: stories260K (compare_dump.cpp), timing.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "causal_lm.h"
#include "grade/probes.h"
#include "sampler.h"

using namespace llm;
using namespace llm::dump;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// A row of V seeded logits (N(0, scale^2)), as the sampler functions take it.
std::vector<float> row(Index V, std::uint64_t seed, float scale = 2.0f) {
  const Tensor t = seeded(Shape{V}, seed, scale);
  return std::vector<float>(t.flat().begin(), t.flat().end());
}

// The ids of a tensor, in row-major order.
ProbeResult ints_of(const IdTensor& t) { return integers(std::vector<std::int32_t>(t.flat().begin(), t.flat().end())); }

}  // namespace

int main() {
  emit("{\"setup\":\"seeded rows of 32 logits; ModelConfig::lesson() with weights from seed 42\"}");

  // Exercise 1: the model on the lesson config with seeded weights, positions, mask, loss.
  const ModelConfig cfg = ModelConfig::lesson();
  const IdTensor ids = make_ids({{1, 17, 42, 256, 7, 99}, {5, 9, 13, 17, 21, 25}});
  probe(1, "CausalLM(lesson config, seed 42): four weights (embedding, layer 0 q_proj, lm_head)", [&] {
    const CausalLM model(cfg, 42);
    Tensor sample(Shape{4}, 0.0f);
    sample(0) = (*model.embed_tokens.weight)(0, 0);
    sample(1) = (*model.embed_tokens.weight)(999, 127);
    sample(2) = (*model.layers.at(0).self_attn.q_proj.weight)(5, 7);
    sample(3) = (*model.lm_head.weight)(17, 3);
    return floats(sample);
  });
  const IdTensor padded = make_ids({{0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}});
  probe(2, "default_position_ids, 3 cached + 2 new, no mask", [] { return ints_of(default_position_ids(nullptr, 2, 3, 2)); });
  probe(2, "default_position_ids, left padding, 3 cached + 2 new", [&] {
    return ints_of(default_position_ids(&padded, 2, 3, 2));
  });
  probe(3, "build_causal_mask, 2 cached + 3 new", [] { return floats(build_causal_mask(nullptr, 1, 2, 3)); });
  probe(3, "build_causal_mask, left padding, 1 cached + 4 new", [&] { return floats(build_causal_mask(&padded, 2, 1, 4)); });
  probe(4, "forward logits of 2 x 6 tokens", [&] { return floats(CausalLM(cfg, 42).forward(ids).logits); });
  probe(4, "forward one token after a cache of 5", [&] {
    const CausalLM model(cfg, 42);
    IdTensor first(Shape{2, 5}), last(Shape{2, 1});
    for (Index b = 0; b < 2; ++b) {
      for (Index t = 0; t < 5; ++t) first(b, t) = ids(b, t);
      last(b, 0) = ids(b, 5);
    }
    const auto prefill = model.forward(first, {.use_cache = true});
    return floats(model.forward(last, {.past_key_values = prefill.past_key_values, .use_cache = true}).logits);
  });
  const Tensor logits = seeded(Shape{2, 3, 16}, 5, 3.0f);  // (B, T, V)
  probe(5, "cross_entropy of (2, 3, 16) logits", [&] {
    return floats(std::vector<float>{cross_entropy(logits, make_ids({{1, 2, 3}, {15, 0, 7}}))});
  });
  probe(5, "cross_entropy with -100 labels", [&] {
    return floats(std::vector<float>{cross_entropy(logits, make_ids({{1, -100, 3}, {-100, 0, -100}}))});
  });
  probe(5, "cross_entropy of logits of +-1e4", [] {
    const Tensor big(Shape{1, 2, 3}, {1e4f, -1e4f, 0.0f, -1e4f, 1e4f, 0.0f});
    return floats(std::vector<float>{cross_entropy(big, make_ids({{2, 0}}))});
  });

  probe(5, "forward loss with labels", [&] {
    const IdTensor labels = make_ids({{17, 42, 256, 7, 99, -100}, {9, 13, -100, 21, 25, 29}});
    return floats(std::vector<float>{CausalLM(cfg, 42).forward(ids, {.labels = &labels}).loss.value_or(NAN)});
  });

  // Exercise 2: the sampler, on seeded rows of V = 32.
  const std::vector<float> base = row(32, 11);
  const std::vector<std::int32_t> history = {3, 3, 7, 40, -1, 12, 7};
  probe(6, "apply_repetition_penalty 1.5, history 3 3 7 40 -1 12 7", [&] {
    std::vector<float> r = base;
    apply_repetition_penalty(r, history, 1.5f);
    return floats(r);
  });
  probe(7, "apply_temperature 0.7", [&] {
    std::vector<float> r = base;
    apply_temperature(r, 0.7f);
    return floats(r);
  });
  probe(7, "apply_temperature 1e-30", [&] {
    std::vector<float> r = base;
    apply_temperature(r, 1e-30f);
    return floats(r);
  });
  probe(8, "apply_top_k 5", [&] {
    std::vector<float> r = base;
    apply_top_k(r, 5);
    return floats(r);
  });
  probe(8, "apply_top_k 3 on ties", [] {
    std::vector<float> r = {1.0f, 2.0f, 2.0f, 2.0f, 0.0f, 2.0f};
    apply_top_k(r, 3);
    return floats(r);
  });
  probe(9, "apply_top_p 0.9", [&] {
    std::vector<float> r = base;
    apply_top_p(r, 0.9f);
    return floats(r);
  });
  probe(9, "apply_top_p 0.5 on four equal logits (a sum exactly at top_p)", [] {
    std::vector<float> r = {0.0f, 0.0f, 0.0f, 0.0f};
    apply_top_p(r, 0.5f);
    return floats(r);
  });
  probe(9, "apply_top_p 0.6 after apply_top_k 4", [&] {
    std::vector<float> r = base;
    apply_top_k(r, 4);
    apply_top_p(r, 0.6f);
    return floats(r);
  });
  probe(10, "select_greedy", [&] { return integers(std::vector<std::int32_t>{select_greedy(base)}); });
  probe(10, "select_categorical at u = 0, 0.1, ..., 0.9 and just below 1", [&] {
    std::vector<float> r = base;
    apply_top_k(r, 6);
    std::vector<std::int32_t> ids;
    for (int i = 0; i < 10; ++i) ids.push_back(select_categorical(r, static_cast<float>(i) / 10.0f));
    ids.push_back(select_categorical(r, std::nextafter(1.0f, 0.0f)));
    return integers(ids);
  });
  probe(10, "select_categorical never returns a -inf id", [] {
    const std::vector<float> holes = {0.0f, kNegInf, 0.0f, kNegInf};
    return integers(std::vector<std::int32_t>{select_categorical(holes, 0.5f),
                                              select_categorical(holes, std::nextafter(1.0f, 0.0f))});
  });
  probe(11, "validate top_p 1.5", [] {
    validate({.top_p = 1.5f});
    return text("accepted");
  });
  probe(11, "validate temperature -1 (greedy, valid)", [] {
    validate({.temperature = -1.0f});
    return text("accepted");
  });
  probe(11, "sample_next 20 draws, temperature 0.8, top-k 10, top-p 0.9, penalty 1.3, seed 7", [&] {
    Rng rng(7);
    std::vector<std::int32_t> ids;
    for (int i = 0; i < 20; ++i) {
      std::vector<float> r = base;
      ids.push_back(sample_next(r, history, {.temperature = 0.8f, .top_k = 10, .top_p = 0.9f,
                                             .repetition_penalty = 1.3f}, rng));
    }
    return integers(ids);
  });

  // Exercise 3: generation.
  probe(12, "prepare_inputs_for_generation after a cache of 4", [&] {
    const CausalLM model(cfg, 42);
    IdTensor first(Shape{2, 4});
    for (Index b = 0; b < 2; ++b)
      for (Index t = 0; t < 4; ++t) first(b, t) = ids(b, t);
    const auto prefill = model.forward(first, {.use_cache = true});
    const GenerationInputs in = model.prepare_inputs_for_generation(ids, prefill.past_key_values.get());
    ProbeResult r = ints_of(in.input_ids);
    r.ints.insert(r.ints.end(), in.position_ids.flat().begin(), in.position_ids.flat().end());
    return r;
  });
  probe(13, "generate 2 rows, 8 greedy tokens", [&] {
    return ints_of(CausalLM(cfg, 42).generate(ids, {.max_new_tokens = 8, .sampling = {.temperature = 0.0f}}));
  });
  probe(13, "generate 2 rows, 8 sampled tokens (temperature 1, top-k 0, seed 3)", [&] {
    return ints_of(CausalLM(cfg, 42).generate(
        ids, {.max_new_tokens = 8, .sampling = {.temperature = 1.0f, .top_k = 0}, .seed = 3}));
  });
  emit("{\"done\":true}");
}
