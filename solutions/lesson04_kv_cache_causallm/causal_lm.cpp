// causal_lm.cpp — reference of lesson 04, exercises 1 and 3: the CausalLM forward pass with a KV
// cache, its loss, and generate(). Readable first; the speed comes from the cache and from the
// components (matrix-matrix products for a prompt, matrix-vector products per decoded token).
// Not here: the sampler (sampler.cpp, exercise 2), requests joining a running batch (stage 2).
//
// Legend: B batch, T new tokens, P cached positions, S = P + T, C hidden, V vocab, L layers.
#include "causal_lm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "llm/errors.h"
#include "llm/ops.h"
#include "sampler.h"

namespace llm {

// =============================================================================================
// Exercise 1: the model
// =============================================================================================

// Step 1: the members, drawn from one Rng(seed) in the contract's order.
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

// Step 2: positions.
IdTensor default_position_ids(const IdTensor* attention_mask, Index batch, Index past, Index new_tokens) {
  IdTensor positions(Shape{batch, new_tokens});  // (B, T)
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

// Step 3: the causal mask, aligned bottom-right with the cache.
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

// Step 4 (and 5): forward.
CausalLMOutputWithPast CausalLM::forward(const IdTensor& input_ids, const ForwardArgs& args) const {
  check_forward_inputs(config_, input_ids, args);
  const Index B = input_ids.size(0), T = input_ids.size(1);

  std::shared_ptr<KVCache> cache = args.past_key_values;
  if (args.use_cache && !cache) cache = std::make_shared<KVCache>(config_, B, config_.max_position_embeddings);
  const Index P = cache ? cache->seq_length() : 0;  // read now: every layer appends T positions

  IdTensor derived;  // (B, T), only when the caller gave no positions
  if (!args.position_ids) derived = default_position_ids(args.attention_mask, B, P, T);
  const IdTensor& positions = args.position_ids ? *args.position_ids : derived;
  // One new token without padding may look at every key, cached or new: its mask row would be all
  // zeros, so none is built (the usual decode step).
  std::optional<Tensor> mask;  // (B, T, S)
  if (T > 1 || args.attention_mask) mask = build_causal_mask(args.attention_mask, B, P, T);
  const Tensor* mask_ptr = mask ? &*mask : nullptr;

  Tensor x = embed_tokens.forward(input_ids);  // (B, T, C)
  for (size_t l = 0; l < layers.size(); ++l)
    x = layers[l].forward(x, positions, mask_ptr, cache ? &cache->layer(static_cast<Index>(l)) : nullptr, rotary_emb);
  x = norm.forward(x);

  CausalLMOutputWithPast out;
  out.logits = lm_head.forward(x);  // (B, T, V)
  // The course's convention: labels arrive already shifted, so logits[b, t] is scored against
  // labels[b, t]. (Hugging Face shifts inside the model: logits[:, :-1] against labels[:, 1:].)
  if (args.labels) out.loss = cross_entropy(out.logits, *args.labels);
  out.past_key_values = cache;
  return out;
}

// Step 5: the loss.
float cross_entropy(const Tensor& logits, const IdTensor& labels) {
  if (logits.rank() != 3 || labels.rank() != 2 || logits.size(0) != labels.size(0) || logits.size(1) != labels.size(1))
    fail<ShapeError>("cross_entropy: logits ", logits.shape().str(), " and labels ", labels.shape().str(),
                     " must be (B, T, V) and (B, T)");
  const Index B = labels.size(0), T = labels.size(1), V = logits.size(2);
  double total = 0.0;  // summed in double: thousands of positions of ~ln V each
  Index counted = 0;
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < T; ++t) {
      const std::int32_t label = labels(b, t);
      if (label == kIgnoreIndex) continue;  // neither in the sum nor in the count
      if (label < 0 || label >= V)
        fail<InvalidArgument>("cross_entropy: label ", label, " at (", b, ", ", t, ") is out of range [0, ", V,
                              ") and is not the ignore index ", kIgnoreIndex);
      // -log softmax(x)[y] = log(sum_j exp(x_j)) - x_y. Subtract the row max m first, so that every
      // exp() is at most 1: log(sum_j exp(x_j - m)) + (m - x_y). Logits of 1e4 stay finite.
      const std::span<const float> row = logits.row(b, t);
      const double m = *std::max_element(row.begin(), row.end());
      double sum = 0.0;
      for (const float x : row) sum += std::exp(static_cast<double>(x) - m);
      total += std::log(sum) + (m - static_cast<double>(row[static_cast<size_t>(label)]));
      ++counted;
    }
  if (counted == 0)
    fail<InvalidArgument>("cross_entropy: all ", labels.numel(), " labels are the ignore index ", kIgnoreIndex,
                          ": there is no position to average over");
  return static_cast<float>(total / static_cast<double>(counted));  // the mean, not the sum
}

// =============================================================================================
// Exercise 3: generation
// =============================================================================================

// Step 12: what a step feeds the model when the caller drives the loop (Hugging Face's API).
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

namespace {

// What generate() keeps for one row of the batch during the call.
struct RowState {
  std::vector<std::int32_t> tokens;   // the prompt, then one token per step
  Index next_position = 0;            // the position of the row's next token: its number of real tokens
  bool finished = false;              // it sampled eos: from now on it pads and draws nothing
  std::vector<std::int32_t> history;  // its distinct real tokens so far, for the repetition penalty
  std::vector<bool> seen;             // (V) which ids are in history; empty when there is no penalty

  void remember(std::int32_t id) {  // one more token of text (a no-op without a penalty)
    if (seen.empty() || seen[static_cast<size_t>(id)]) return;
    seen[static_cast<size_t>(id)] = true;
    history.push_back(id);
  }
};

// Every row's tokens as one (B, N) id tensor; all rows have the same length.
IdTensor to_tensor(const std::vector<RowState>& rows) {
  IdTensor out(Shape{static_cast<Index>(rows.size()), static_cast<Index>(rows.front().tokens.size())});
  for (size_t b = 0; b < rows.size(); ++b)
    std::copy(rows[b].tokens.begin(), rows[b].tokens.end(), out.row(static_cast<Index>(b)).begin());
  return out;
}

// The padding mask one column longer: the token just chosen is real in every row.
IdTensor with_new_column(const IdTensor& mask) {
  const Index B = mask.size(0), S = mask.size(1);
  IdTensor out(Shape{B, S + 1}, 1);
  for (Index b = 0; b < B; ++b) std::copy_n(mask.row(b).data(), S, out.row(b).data());
  return out;
}

}  // namespace

// Step 13: generate — prefill once, then one token per row per step.
IdTensor CausalLM::generate(const IdTensor& input_ids, const GenerateOptions& opt) const {
  // 13a: check everything once, here; then the state of this call.
  check_generate_inputs(config_, input_ids, opt);
  const Index B = input_ids.size(0), prompt_len = input_ids.size(1);
  if (opt.max_new_tokens == 0) return input_ids;
  const std::int32_t eos = opt.eos_token_id.value_or(-1);  // -1: no id is eos
  const std::int32_t pad = opt.pad_token_id.value_or(opt.eos_token_id.value_or(0));
  Rng rng(opt.seed);  // one stream for the whole batch: row 0 draws first, then row 1, step after step
  std::vector<RowState> rows(static_cast<size_t>(B));
  for (Index b = 0; b < B; ++b) {
    RowState& row = rows[static_cast<size_t>(b)];
    row.tokens.reserve(static_cast<size_t>(prompt_len + opt.max_new_tokens));
    if (opt.sampling.repetition_penalty != 1.0f) row.seen.assign(static_cast<size_t>(config_.vocab_size), false);
    for (Index t = 0; t < prompt_len; ++t) {
      row.tokens.push_back(input_ids(b, t));
      if (opt.attention_mask && (*opt.attention_mask)(b, t) == 0) continue;  // padding: no position, not text
      ++row.next_position;
      row.remember(input_ids(b, t));  // the prompt counts as text the penalty has seen
    }
  }
  std::optional<IdTensor> mask;  // (B, S): only a padded prompt needs one; it grows by a column per step
  if (opt.attention_mask) mask = *opt.attention_mask;

  // 13b: prefill — the whole prompt in one forward; its last position chooses each row's first token.
  // Exactly the capacity this call needs, allocated once: appending never copies.
  const std::shared_ptr<KVCache> cache =
      opt.use_cache ? std::make_shared<KVCache>(config_, B, prompt_len + opt.max_new_tokens) : nullptr;
  Tensor logits = forward(input_ids, {.attention_mask = opt.attention_mask, .past_key_values = cache,
                                      .use_cache = opt.use_cache})
                      .logits;  // (B, prompt, V)

  std::vector<std::int32_t> chosen(static_cast<size_t>(B));  // this step's token of every row
  std::vector<float> row_logits(static_cast<size_t>(config_.vocab_size));
  for (int step = 1;; ++step) {
    // 13c (13b for the first token): every unfinished row, in order, picks its token from the logits of
    // its last position — a copy, since the sampler changes the row in place.
    const Index last = logits.size(1) - 1;
    for (Index b = 0; b < B; ++b) {
      RowState& row = rows[static_cast<size_t>(b)];
      std::int32_t& id = chosen[static_cast<size_t>(b)];
      if (row.finished) {  // 13d: a finished row only pads, and draws no random number
        id = pad;
      } else {
        const std::span<const float> out = logits.row(b, last);
        std::copy(out.begin(), out.end(), row_logits.begin());
        id = sample_next(row_logits, row.history, opt.sampling, rng);
        row.finished = id == eos;  // 13d: it keeps its eos, then pads
        row.remember(id);
      }
      row.tokens.push_back(id);
    }
    // 13d: stream the step; stop when every row is done or the budget is spent.
    if (opt.on_step) opt.on_step(chosen);
    if (step == opt.max_new_tokens ||
        std::all_of(rows.begin(), rows.end(), [](const RowState& r) { return r.finished; }))
      break;

    // 13c: feed the chosen tokens back. With the cache: (B, 1) new ids at each row's next position, the
    // mask (when the prompt was padded) one column of ones longer; every earlier key comes from the cache.
    if (mask) mask = with_new_column(*mask);
    if (cache) {
      IdTensor next(Shape{B, 1}), positions(Shape{B, 1});  // (B, 1) each
      for (Index b = 0; b < B; ++b) {
        next(b, 0) = chosen[static_cast<size_t>(b)];
        positions(b, 0) = static_cast<std::int32_t>(rows[static_cast<size_t>(b)].next_position++);
      }
      logits = forward(next, {.attention_mask = mask ? &*mask : nullptr, .position_ids = &positions,
                              .past_key_values = cache, .use_cache = true})
                   .logits;  // (B, 1, V)
    } else {
      // 13e: the baseline without a cache recomputes the whole sequence as one batched forward.
      logits = forward(to_tensor(rows), {.attention_mask = mask ? &*mask : nullptr}).logits;  // (B, S, V)
    }
  }
  return to_tensor(rows);
}

}  // namespace llm
