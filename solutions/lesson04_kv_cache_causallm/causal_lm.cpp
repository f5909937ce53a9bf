// causal_lm.cpp — reference solution of lesson 04, exercises 1 and 2: the CausalLM forward pass
// with a KV cache, and generate(). Readable first; the speed comes from the cache and from the
// components (matrix-matrix products for a prompt, matrix-vector products per decoded token).
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, V vocab, L layers.
#include "causal_lm.h"

#include <algorithm>
#include <limits>

#include "llm/ops.h"
#include "sampler.h"

namespace llm {

// ---------------------------------------------------------------------------------------------
// Step 1: the members
// ---------------------------------------------------------------------------------------------

CausalLM::CausalLM(const ModelConfig& config, std::uint64_t seed) : config_(config) {
  config_.validate();
  Rng rng(seed);
  const float std = config_.initializer_range;
  embed_tokens = Embedding::random(config_.vocab_size, config_.hidden_size, rng, std);
  layers.reserve(static_cast<size_t>(config_.num_hidden_layers));
  for (int l = 0; l < config_.num_hidden_layers; ++l) layers.emplace_back(config_, rng);
  norm = RMSNorm(config_.hidden_size, config_.rms_norm_eps);
  // Tied: the LM head *is* the embedding matrix (same object), so logits[v] = h . embedding[v].
  lm_head = config_.tie_word_embeddings ? Linear{} : Linear::random(config_.vocab_size, config_.hidden_size, rng, std);
  if (config_.tie_word_embeddings) lm_head.weight = embed_tokens.weight;
  rotary_emb = RotaryEmbedding(config_.head_dim(), config_.max_position_embeddings, config_.rope_theta,
                               RopeConvention::kAdjacentPairs);
}

// ---------------------------------------------------------------------------------------------
// Step 2: positions
// ---------------------------------------------------------------------------------------------

IdTensor default_position_ids(const IdTensor* attention_mask, Index batch, Index past, Index new_tokens) {
  IdTensor positions(Shape{batch, new_tokens});
  for (Index b = 0; b < batch; ++b) {
    if (attention_mask == nullptr) {
      // Continue from the cache: the first new token sits right after the P cached ones.
      for (Index t = 0; t < new_tokens; ++t) positions(b, t) = static_cast<std::int32_t>(past + t);
      continue;
    }
    // Left padding: count only real tokens, so each row's first real token is position 0.
    std::int32_t seen = 0;
    for (Index j = 0; j < past + new_tokens; ++j) {
      seen += (*attention_mask)(b, j);
      if (j >= past) positions(b, j - past) = std::max(seen - 1, 0);
    }
  }
  return positions;
}

// ---------------------------------------------------------------------------------------------
// Step 3: the causal mask, aligned bottom-right with the cache
// ---------------------------------------------------------------------------------------------

Tensor build_causal_mask(const IdTensor* attention_mask, Index batch, Index past, Index new_tokens) {
  const Index S = past + new_tokens;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  Tensor mask(Shape{batch, new_tokens, S}, kNegInf);  // (B, T, S)
  for (Index b = 0; b < batch; ++b)
    for (Index t = 0; t < new_tokens; ++t)
      for (Index j = 0; j <= past + t; ++j)  // new token t is absolute position past + t
        if (attention_mask == nullptr || (*attention_mask)(b, j) == 1) mask(b, t, j) = 0.0f;
  return mask;
}

// ---------------------------------------------------------------------------------------------
// Step 4 and 5: forward and loss
// ---------------------------------------------------------------------------------------------

CausalLMOutputWithPast CausalLM::forward(const IdTensor& input_ids, const ForwardArgs& args) const {
  check_forward_inputs(config_, input_ids, args);
  const Index B = input_ids.size(0), T = input_ids.size(1);

  std::shared_ptr<KVCache> cache = args.past_key_values;
  if (!cache && args.use_cache) cache = std::make_shared<KVCache>(config_, B, config_.max_position_embeddings);
  const Index P = cache ? cache->seq_length() : 0;

  const IdTensor positions = args.position_ids ? *args.position_ids : default_position_ids(args.attention_mask, B, P, T);
  const Tensor mask = build_causal_mask(args.attention_mask, B, P, T);  // (B, T, S)

  Tensor x = embed_tokens.forward(input_ids);  // (B, T, C)
  for (size_t l = 0; l < layers.size(); ++l)
    x = layers[l].forward(x, positions, &mask, cache ? &cache->layer(static_cast<Index>(l)) : nullptr, rotary_emb);
  x = norm.forward(x);

  CausalLMOutputWithPast out;
  out.logits = lm_head.forward(x);  // (B, T, V)
  // The course's convention: labels arrive already shifted, so logits[b, t] is scored against
  // labels[b, t]. (Hugging Face shifts inside the model: logits[:, :-1] against labels[:, 1:].)
  if (args.labels) out.loss = cross_entropy(out.logits, *args.labels);
  out.past_key_values = cache;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Step 6: what a generation step feeds the model
// ---------------------------------------------------------------------------------------------

GenerationInputs CausalLM::prepare_inputs_for_generation(const IdTensor& input_ids, const KVCache* past,
                                                         const IdTensor* attention_mask) const {
  if (input_ids.rank() != 2 || input_ids.numel() == 0)
    fail<ShapeError>("input_ids must be a non-empty (batch, seq) tensor, got ", input_ids.shape().str());
  const Index B = input_ids.size(0), N = input_ids.size(1);
  const Index P = past ? past->seq_length() : 0;
  if (P >= N)
    fail<InvalidArgument>("the cache already holds ", P, " positions but input_ids has only ", N,
                          ": there is no new token to feed");
  GenerationInputs in;
  in.attention_mask = attention_mask ? *attention_mask : IdTensor(Shape{B, N}, 1);
  check_shape(in.attention_mask, Shape{B, N}, "attention_mask");
  in.input_ids = IdTensor(Shape{B, N - P});
  for (Index b = 0; b < B; ++b)
    for (Index t = P; t < N; ++t) in.input_ids(b, t - P) = input_ids(b, t);  // only what the cache lacks
  in.position_ids = default_position_ids(&in.attention_mask, B, P, N - P);
  return in;
}

// ---------------------------------------------------------------------------------------------
// Step 7: generate
// ---------------------------------------------------------------------------------------------

// The first `len` columns of a (B, N) id tensor.
static IdTensor first_columns(const IdTensor& ids, Index len) {
  IdTensor out(Shape{ids.size(0), len});
  for (Index b = 0; b < ids.size(0); ++b)
    std::copy_n(ids.row(b).data(), len, out.row(b).data());
  return out;
}

IdTensor CausalLM::generate(const IdTensor& input_ids, const GenerateOptions& opt) const {
  check_generate_inputs(config_, input_ids, opt);
  const Index B = input_ids.size(0), prompt_len = input_ids.size(1);
  const Index capacity = prompt_len + opt.max_new_tokens;
  const std::int32_t eos = opt.eos_token_id.value_or(-1);
  const std::int32_t pad = opt.pad_token_id.value_or(eos >= 0 ? eos : 0);
  const SamplingParams params{opt.temperature, opt.top_k, opt.top_p, opt.repetition_penalty};
  Rng rng(opt.seed);

  // The whole sequence, prompt then new tokens, and its padding mask; both grow column by column.
  IdTensor seq(Shape{B, capacity}, pad);
  IdTensor mask(Shape{B, capacity}, 1);
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < prompt_len; ++t) {
      seq(b, t) = input_ids(b, t);
      mask(b, t) = opt.attention_mask ? (*opt.attention_mask)(b, t) : 1;
    }

  // Exactly the capacity this call needs, allocated once: appending never copies.
  std::shared_ptr<KVCache> cache = opt.use_cache ? std::make_shared<KVCache>(config_, B, capacity) : nullptr;
  std::vector<bool> finished(static_cast<size_t>(B), false);
  std::vector<std::int32_t> chosen(static_cast<size_t>(B));
  std::vector<std::int32_t> history;
  std::vector<float> logits_row(static_cast<size_t>(config_.vocab_size));

  Index len = prompt_len;
  for (int step = 0; step < opt.max_new_tokens; ++step) {
    const IdTensor cur = first_columns(seq, len);
    const IdTensor cur_mask = first_columns(mask, len);
    CausalLMOutputWithPast out;
    if (cache) {
      // Prefill on the first step (the whole prompt at once), then one token per step.
      const GenerationInputs in = prepare_inputs_for_generation(cur, cache.get(), &cur_mask);
      out = forward(in.input_ids, {.attention_mask = &in.attention_mask, .position_ids = &in.position_ids,
                                   .past_key_values = cache, .use_cache = true});
    } else {
      // The baseline: recompute the whole sequence as one batched forward, every step.
      out = forward(cur, {.attention_mask = &cur_mask});
    }
    const Index last = out.logits.size(1) - 1;
    for (Index b = 0; b < B; ++b) {
      if (finished[static_cast<size_t>(b)]) {
        chosen[static_cast<size_t>(b)] = pad;  // a finished row only pads
        continue;
      }
      std::span<const float> row = out.logits.row(b, last);
      std::copy(row.begin(), row.end(), logits_row.begin());
      history.clear();
      if (params.repetition_penalty != 1.0f)
        for (Index t = 0; t < len; ++t)
          if (mask(b, t) == 1) history.push_back(seq(b, t));  // padding is not "generated text"
      const std::int32_t next = sample_next(logits_row, history, params, rng);
      chosen[static_cast<size_t>(b)] = next;
      if (next == eos) finished[static_cast<size_t>(b)] = true;
    }
    for (Index b = 0; b < B; ++b) seq(b, len) = chosen[static_cast<size_t>(b)];
    ++len;
    if (opt.on_step) opt.on_step(chosen);
    if (std::all_of(finished.begin(), finished.end(), [](bool f) { return f; })) break;
  }
  return first_columns(seq, len);
}

}  // namespace llm
