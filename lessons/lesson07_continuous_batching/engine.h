// engine.h — lesson 07's contract, part 4: the engine and its step loop. Requests are submitted at any
// time (validated first: a bad one is refused with a typed error and nothing else changes); each
// step() schedules, runs ONE batched forward pass, samples one token for every sequence that reached
// its last token, and retires the ones that finished; abort() cancels a request between two steps.
//
//   Engine engine(model, {.num_blocks = 64, .max_running = 8});
//   RequestId id = engine.submit({.prompt = ids, .max_new_tokens = 32, .seed = 7});
//   while (engine.has_unfinished())
//     for (const RequestOutput& out : engine.step().outputs) ...   // new tokens, finish reasons
//
// Single-threaded by design: call every member from one thread. A server runs the step loop on one
// engine thread and hands submissions and aborts to it (a queue, or a mutex around each call).
// Times are the caller's: stamp a request when submit() returns and when a step() returns its tokens
// (time to first token, time per output token). Not here: text, prefix caching, several models.
//
// Dimension legend (docs/dimensions.md): N tokens of a sequence, V vocab_size, BS block_size,
// NB num_blocks.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "block_pool.h"  // lesson 06 (reference)
#include "causal_lm.h"   // lesson 04 (reference)
#include "request.h"
#include "scheduler.h"

namespace llm {

struct EngineConfig {
  Index num_blocks = 256;           // NB: the KV cache, shared by every request
  Index block_size = 16;            // BS
  Index max_running = 16;           // sequences in one batch at most
  Index max_tokens_per_step = 256;  // token budget of one step (>= max_running); a longer prompt is
                                    // prefilled in chunks over several steps
};

// What one request got from one step.
struct RequestOutput {
  RequestId id = -1;
  std::vector<std::int32_t> new_tokens;              // produced this step: one, or none (a prefill chunk
                                                     // that did not reach the end, an abort)
  FinishReason finish_reason = FinishReason::kNone;  // set in the step the request finished
  // Filled when finished: the whole answer and what it cost.
  std::vector<std::int32_t> generated;  // every generated token, in order (eos / stop token included)
  Index prompt_tokens = 0;
  int num_preemptions = 0;
  bool finished() const { return finish_reason != FinishReason::kNone; }
};

struct StepResult {
  // One entry per request that produced a token or finished in this step (requests aborted since the
  // last step come first, then the batch's order). A request in the middle of its prefill is not listed.
  std::vector<RequestOutput> outputs;
  Index num_tokens = 0;              // tokens run through the model (<= max_tokens_per_step)
  Index num_sequences = 0;           // sequences in the batch
  std::vector<RequestId> preempted;  // requests sent back to the waiting queue in this step
};

// Limits check_request enforces beyond the model's own.
inline constexpr std::size_t kMaxStopTokenIds = 1024;

// Given: the checks submit() runs first. InvalidArgument naming the value and the limit for: an empty
// prompt; a prompt id outside [0, V); max_new_tokens < 1; prompt + max_new_tokens beyond
// max_position_embeddings; prompt + max_new_tokens needing more blocks than the whole pool (it could
// never run); a sampling value lesson 04's validate() refuses; eos or a stop id outside [0, V); more
// than kMaxStopTokenIds stop ids.
void check_request(const ModelConfig& config, const BlockPool& pool, const Request& request);
// Given: the pool's limits (lesson 06) and check_scheduler_config.
void check_engine_config(const ModelConfig& config, const EngineConfig& engine);

class Engine {
 public:
  // Given. A pool of NB blocks of BS positions for `model`'s shape and an empty scheduler; the model is
  // used, never copied, and must outlive the engine. check_engine_config runs first.
  Engine(const CausalLM& model, EngineConfig config);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Given. check_request, then a new waiting sequence at the back of the queue; returns its id
  // (0, 1, 2, ... in submission order). A refused request changes nothing: the others keep running.
  RequestId submit(Request request);

  // Step 4. One iteration of the engine:
  //  1. the scheduler's schedule() (step 2): which sequences run, with how many tokens;
  //  2. one batched_forward (step 3) over their chunks — a BatchEntry per chunk, logits wanted for the
  //     chunks that reach their sequence's last token (ScheduledChunk::samples);
  //  3. per chunk, in order: mark_computed; for a sampling chunk, sample() its logits row and
  //     append_token() (step 1) — a RequestOutput with that token; a request that finished gets its
  //     reason and its whole answer, leaves the scheduler (finish: its blocks back at once) and the engine.
  // Outputs of aborts since the last step come first. If the forward pass throws, every scheduled table
  // is cropped back to its computed length (nothing half-written is kept) and the exception propagates.
  // Nothing waiting or running: an empty result.
  StepResult step();

  // Given (uses Scheduler::abort, step 6). Cancels a waiting or running request now: its blocks go back
  // to the pool before abort() returns, and the next step() reports it finished with kAborted (and the
  // tokens it had generated). false, changing nothing, for an id that is unknown or already finished.
  bool abort(RequestId id);

  // Given: what a server's /metrics and a benchmark read.
  bool has_unfinished() const { return !live_.empty(); }
  Index num_waiting() const { return scheduler_.num_waiting(); }
  Index num_running() const { return scheduler_.num_running(); }
  Index num_blocks_used() const { return pool_.num_used(); }
  Index num_blocks_free() const { return pool_.num_free(); }
  Index num_steps() const { return num_steps_; }  // step() calls that ran the model
  const Sequence* find(RequestId id) const;       // a waiting or running request; nullptr otherwise
  const BlockPool& pool() const { return pool_; }
  const Scheduler& scheduler() const { return scheduler_; }
  const EngineConfig& config() const { return config_; }
  const CausalLM& model() const { return *model_; }

 private:
  // Given: the finishing output of a sequence (reason, whole answer, prompt length, preemptions).
  static RequestOutput final_output(const Sequence& seq, std::vector<std::int32_t> new_tokens);

  const CausalLM* model_;
  EngineConfig config_;
  BlockPool pool_;  // declared before the scheduler and the sequences, which refer to it
  Scheduler scheduler_;
  std::unordered_map<RequestId, std::unique_ptr<Sequence>> live_;  // every waiting or running request
  std::vector<RequestOutput> aborted_;                             // reported by the next step()
  RequestId next_id_ = 0;
  Index num_steps_ = 0;
};

}  // namespace llm
