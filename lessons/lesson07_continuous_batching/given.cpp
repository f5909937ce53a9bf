// given.cpp — lesson 07 code you are given, not asked to write: the sequence's bookkeeping, the
// scheduler's queue entry, the engine's set-up, submission and abort, and every input check. Read it;
// your steps call it. It is compiled into both the student and the reference build, unchanged.
//
// Legend: N tokens of a sequence, V vocab_size, BS block_size, NB num_blocks.
#include <algorithm>
#include <set>
#include <utility>

#include "engine.h"
#include "llm/errors.h"
#include "model_runner.h"
#include "request.h"
#include "scheduler.h"

namespace llm {

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

const char* to_string(RequestStatus status) {
  switch (status) {
    case RequestStatus::kWaiting:
      return "waiting";
    case RequestStatus::kRunning:
      return "running";
    case RequestStatus::kFinished:
      return "finished";
  }
  return "?";
}

const char* to_string(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kEos:
      return "eos";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kAborted:
      return "aborted";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Sequence: bookkeeping
// ---------------------------------------------------------------------------------------------

Sequence::Sequence(RequestId id, Request request, BlockPool& pool)
    : id_(id), request_(std::move(request)), tokens_(request_.prompt), table_(pool), rng_(request_.seed) {
  // Room for every token the request may ever hold, so appending never reallocates mid-step.
  tokens_.reserve(request_.prompt.size() + static_cast<size_t>(std::max(request_.max_new_tokens, 0)));
}

void Sequence::set_status(RequestStatus status) {
  if (status_ == RequestStatus::kFinished)
    fail<InvalidArgument>("request ", id_, " is finished (", to_string(finish_reason_),
                          "): its status cannot change");
  if (status == RequestStatus::kFinished)
    fail<InvalidArgument>("request ", id_,
                          ": set_status(finished) is not allowed, finish() gives the reason");
  status_ = status;
}

void Sequence::finish(FinishReason reason) {
  if (reason == FinishReason::kNone)
    fail<InvalidArgument>("request ", id_, ": finish() needs a reason, not none");
  if (status_ == RequestStatus::kFinished)
    fail<InvalidArgument>("request ", id_, " is already finished (", to_string(finish_reason_), ")");
  status_ = RequestStatus::kFinished;
  finish_reason_ = reason;
}

void Sequence::mark_computed(Index n) {
  if (n < 0 || num_computed_ + n > table_.length() || num_computed_ + n > num_tokens())
    fail<InvalidArgument>("request ", id_, ": mark_computed(", n, ") on ", num_computed_,
                          " computed positions passes the ", table_.length(), " slots of its table or its ",
                          num_tokens(), " tokens");
  num_computed_ += n;
}

void Sequence::forget_computed() {
  if (table_.length() != 0)
    fail<InvalidArgument>("request ", id_, ": forget_computed() with ", table_.length(),
                          " positions still in its table: release the table first");
  num_computed_ = 0;
  ++num_preemptions_;
}

// ---------------------------------------------------------------------------------------------
// Scheduler: configuration and the queue entry
// ---------------------------------------------------------------------------------------------

void check_scheduler_config(const SchedulerConfig& c) {
  if (c.max_running < 1 || c.max_running > kMaxRunning)
    fail<InvalidArgument>("max_running = ", c.max_running, " must be in [1, ", kMaxRunning, "]");
  if (c.max_tokens_per_step < c.max_running || c.max_tokens_per_step > kMaxTokensPerStep)
    fail<InvalidArgument>("max_tokens_per_step = ", c.max_tokens_per_step,
                          " must be in [max_running = ", c.max_running, ", ", kMaxTokensPerStep,
                          "]: every running sequence must be able to decode in each step");
}

Scheduler::Scheduler(BlockPool& pool, SchedulerConfig config) : pool_(&pool), config_(config) {
  check_scheduler_config(config_);
}

void Scheduler::add(Sequence& seq) {
  if (seq.status() != RequestStatus::kWaiting || seq.num_computed() != 0 || seq.table().length() != 0)
    fail<InvalidArgument>(
        "Scheduler::add: request ", seq.id(), " is ", to_string(seq.status()), " with ", seq.num_computed(),
        " computed positions and ", seq.table().length(),
        " in its table; only a new waiting request (nothing computed, an empty table) can be queued");
  if (&seq.table().pool() != pool_)
    fail<InvalidArgument>("Scheduler::add: request ", seq.id(),
                          " draws from another block pool than the scheduler");
  waiting_.push_back(&seq);
}

// ---------------------------------------------------------------------------------------------
// Input checks: the batch (step 3), a request and the engine's configuration
// ---------------------------------------------------------------------------------------------

static void check_pool_fits(const ModelConfig& config, const BlockPool& pool) {
  if (pool.num_layers() != config.num_hidden_layers || pool.num_kv_heads() != config.num_key_value_heads ||
      pool.head_dim() != config.head_dim())
    fail<InvalidArgument>("the block pool was made for ", pool.num_layers(), " layers x ",
                          pool.num_kv_heads(), " KV heads x head_dim ", pool.head_dim(), ", the model has ",
                          config.num_hidden_layers, " layers x ", config.num_key_value_heads,
                          " KV heads x head_dim ", config.head_dim(), ": a pool made for another model");
}

void check_batch(const ModelConfig& config, std::span<const BatchEntry> batch) {
  config.validate();
  if (batch.empty()) fail<InvalidArgument>("batched_forward: the batch is empty: there is no token to run");
  std::set<const BlockTable*> tables;
  for (size_t i = 0; i < batch.size(); ++i) {
    const BatchEntry& e = batch[i];
    if (e.table == nullptr) fail<InvalidArgument>("batch entry ", i, " has no block table");
    check_pool_fits(config, e.table->pool());
    if (!tables.insert(e.table).second)
      fail<InvalidArgument>(
          "batch entry ", i,
          " uses the same block table as an earlier entry: they would write the same slots");
    const Index T = static_cast<Index>(e.tokens.size());
    if (T == 0) fail<InvalidArgument>("batch entry ", i, " has no tokens: every entry feeds at least one");
    for (Index t = 0; t < T; ++t) {
      const std::int32_t id = e.tokens[static_cast<size_t>(t)];
      if (id < 0 || id >= config.vocab_size)
        fail<InvalidArgument>("token id ", id, " at batch entry ", i, " index ", t, " is out of range [0, ",
                              config.vocab_size, ") of the vocabulary");
    }
    if (e.first < 0 || e.first + T > e.table->length())
      fail<InvalidArgument>("batch entry ", i, ": positions [", e.first, ", ", e.first + T,
                            ") are outside its block table's [0, ", e.table->length(),
                            "): append the slots first");
    if (e.first + T > config.max_position_embeddings)
      fail<InvalidArgument>("batch entry ", i, ": sequence length ", e.first + T,
                            " exceeds max_position_embeddings = ", config.max_position_embeddings);
  }
}

void check_request(const ModelConfig& config, const BlockPool& pool, const Request& r) {
  const Index prompt = static_cast<Index>(r.prompt.size());
  if (prompt == 0) fail<InvalidArgument>("prompt is empty: a request needs at least one token");
  for (Index i = 0; i < prompt; ++i) {
    const std::int32_t id = r.prompt[static_cast<size_t>(i)];
    if (id < 0 || id >= config.vocab_size)
      fail<InvalidArgument>("prompt token id ", id, " at index ", i, " is out of range [0, ",
                            config.vocab_size, ") of the vocabulary");
  }
  if (r.max_new_tokens < 1)
    fail<InvalidArgument>("max_new_tokens = ", r.max_new_tokens,
                          " must be >= 1: a request produces at least one token");
  const Index total = prompt + r.max_new_tokens;
  if (total > config.max_position_embeddings)
    fail<InvalidArgument>("prompt of ", prompt, " tokens + max_new_tokens ", r.max_new_tokens, " = ", total,
                          " exceeds max_position_embeddings = ", config.max_position_embeddings);
  const Index BS = pool.block_size(), blocks = (total + BS - 1) / BS;
  if (blocks > pool.num_blocks())
    fail<InvalidArgument>("prompt of ", prompt, " tokens + max_new_tokens ", r.max_new_tokens, " = ", total,
                          " positions need ", blocks, " blocks of ", BS, ", more than the pool's ",
                          pool.num_blocks(), ": the request could never run");
  validate(r.sampling);  // lesson 04: temperature, top_p, repetition_penalty
  if (r.eos_token_id) check_index(*r.eos_token_id, config.vocab_size, "eos_token_id");
  if (r.stop_token_ids.size() > kMaxStopTokenIds)
    fail<InvalidArgument>(r.stop_token_ids.size(), " stop_token_ids are more than the limit of ",
                          kMaxStopTokenIds);
  for (size_t i = 0; i < r.stop_token_ids.size(); ++i)
    if (r.stop_token_ids[i] < 0 || r.stop_token_ids[i] >= config.vocab_size)
      fail<InvalidArgument>("stop_token_ids[", i, "] = ", r.stop_token_ids[i], " is out of range [0, ",
                            config.vocab_size, ")");
}

void check_engine_config(const ModelConfig& config, const EngineConfig& e) {
  config.validate();
  check_scheduler_config({.max_running = e.max_running, .max_tokens_per_step = e.max_tokens_per_step});
  // block_size and num_blocks: BlockPool's constructor checks them (and the pool's byte limit).
}

// ---------------------------------------------------------------------------------------------
// Engine: set-up, submission, abort
// ---------------------------------------------------------------------------------------------

// The pool is built in the member initialiser list, so the configuration is checked on the way there.
static const EngineConfig& checked(const ModelConfig& model, const EngineConfig& config) {
  check_engine_config(model, config);
  return config;
}

Engine::Engine(const CausalLM& model, EngineConfig config)
    : model_(&model),
      config_(checked(model.config(), config)),
      pool_(model.config(), config_.num_blocks, config_.block_size),
      scheduler_(pool_,
                 {.max_running = config_.max_running, .max_tokens_per_step = config_.max_tokens_per_step}) {}

RequestId Engine::submit(Request request) {
  check_request(model_->config(), pool_, request);  // before anything changes
  const RequestId id = next_id_;
  auto seq = std::make_unique<Sequence>(id, std::move(request), pool_);
  scheduler_.add(*seq);
  live_.emplace(id, std::move(seq));
  ++next_id_;
  return id;
}

bool Engine::abort(RequestId id) {
  const auto it = live_.find(id);
  if (it == live_.end()) return false;
  Sequence* seq = scheduler_.abort(id);  // step 6: out of its queue, blocks released, kAborted
  if (seq == nullptr)
    fail<InvalidArgument>("abort: request ", id, " is live in the engine but the scheduler does not hold it");
  aborted_.push_back(final_output(*seq, {}));
  live_.erase(it);
  return true;
}

const Sequence* Engine::find(RequestId id) const {
  const auto it = live_.find(id);
  return it == live_.end() ? nullptr : it->second.get();
}

RequestOutput Engine::final_output(const Sequence& seq, std::vector<std::int32_t> new_tokens) {
  RequestOutput out;
  out.id = seq.id();
  out.new_tokens = std::move(new_tokens);
  out.finish_reason = seq.finish_reason();
  out.generated.assign(seq.generated().begin(), seq.generated().end());
  out.prompt_tokens = seq.num_prompt_tokens();
  out.num_preemptions = seq.num_preemptions();
  return out;
}

}  // namespace llm
