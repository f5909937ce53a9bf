// request.h — lesson 07's contract, part 1: a request (what a client asks for) and the sequence that
// serves it inside the engine: its tokens, how many of them already have K/V in its block table, its
// own random generator, its state (waiting -> running -> finished) and why it finished.
// Not here: text (the engine works on token ids; a server tokenizes), stop *strings*, beam search,
// several answers per prompt (n > 1), priorities other than first come, first served.
//
// Dimension legend (docs/dimensions.md): N tokens of a sequence (prompt + generated), V vocab_size,
// BS block_size.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "block_table.h"  // lesson 06 (reference): BlockPool, BlockTable
#include "llm/rng.h"
#include "sampler.h"  // lesson 04 (reference): SamplingParams, sample_next

namespace llm {

using RequestId = std::int64_t;  // handed out by Engine::submit: 0, 1, 2, ...

enum class RequestStatus {
  kWaiting,   // in the queue: holds no block (never admitted, or preempted)
  kRunning,   // admitted: holds blocks, runs a prefill chunk or a decode token in every step it is scheduled
  kFinished,  // done: its blocks are back in the pool
};

enum class FinishReason {
  kNone,     // not finished
  kLength,   // produced max_new_tokens tokens
  kEos,      // produced eos_token_id (kept as its last token)
  kStop,     // produced one of stop_token_ids (kept as its last token)
  kAborted,  // cancelled by Engine::abort
};

// "waiting", "running", "finished"; "none", "length", "eos", "stop", "aborted".
const char* to_string(RequestStatus status);
const char* to_string(FinishReason reason);

// What a client asks for. Engine::submit validates it (check_request, engine.h) before anything else.
struct Request {
  std::vector<std::int32_t> prompt;          // (N0) token ids in [0, V), at least one
  int max_new_tokens = 16;                   // >= 1; prompt + max_new_tokens <= max_position_embeddings
  SamplingParams sampling;                   // lesson 04's chain; temperature <= 0 is greedy
  std::uint64_t seed = 0;                    // this request's own Rng(seed): what it draws never depends
                                             // on which other requests share the batch
  std::optional<std::int32_t> eos_token_id;  // finish (kEos) right after producing it
  std::vector<std::int32_t> stop_token_ids;  // finish (kStop) right after producing one of them
};

// One request inside the engine. Owned by the Engine; the Scheduler holds pointers to it.
class Sequence {
 public:
  // Given. A waiting sequence holding `request` (already validated), with an empty block table over
  // `pool` and its generator seeded with request.seed.
  Sequence(RequestId id, Request request, BlockPool& pool);
  Sequence(const Sequence&) = delete;  // one request, one sequence: the scheduler refers to it by address
  Sequence& operator=(const Sequence&) = delete;

  RequestId id() const { return id_; }
  const Request& request() const { return request_; }
  RequestStatus status() const { return status_; }
  FinishReason finish_reason() const { return finish_reason_; }

  const std::vector<std::int32_t>& tokens() const {
    return tokens_;
  }  // (N) the prompt, then what it generated
  Index num_tokens() const { return static_cast<Index>(tokens_.size()); }  // N
  Index num_prompt_tokens() const { return static_cast<Index>(request_.prompt.size()); }
  Index num_generated() const { return num_tokens() - num_prompt_tokens(); }
  std::span<const std::int32_t> generated() const {
    return std::span<const std::int32_t>(tokens_).subspan(static_cast<size_t>(num_prompt_tokens()));
  }
  // Tokens whose K and V are stored in the table: positions 0 .. num_computed() - 1. Between steps the
  // table holds exactly these positions; inside a step it also holds the slots of the scheduled chunk.
  Index num_computed() const { return num_computed_; }
  // Tokens still to run through the model: the whole prompt before the first chunk, 1 while decoding
  // (the token sampled last), everything again after a preemption.
  Index num_pending() const { return num_tokens() - num_computed_; }
  int num_preemptions() const { return num_preemptions_; }

  BlockTable& table() { return table_; }
  const BlockTable& table() const { return table_; }

  // ---------------------------------------------------------------------------------------------
  // Step 1: the request's own sampling and its end
  // ---------------------------------------------------------------------------------------------

  // The next token from `logits` (V), the row of this sequence's last token: lesson 04's sample_next
  // with this request's SamplingParams, its history (every token so far: the prompt and what it
  // generated, for the repetition penalty) and ITS OWN Rng — never one shared by the batch. The row is
  // modified in place. Greedy requests draw nothing from the generator.
  std::int32_t sample(std::span<float> logits);

  // Appends a token the model produced and decides whether the request is done, in this order: it is
  // eos_token_id (kEos), one of stop_token_ids (kStop), or the max_new_tokens-th generated token
  // (kLength). When done the status becomes kFinished with that reason, which is returned; otherwise
  // kNone. InvalidArgument naming the request when it is already finished (a finished request takes no
  // more tokens). The blocks are not released here: the scheduler does that (Scheduler::finish).
  FinishReason append_token(std::int32_t token);

  // ---------------------------------------------------------------------------------------------
  // Given: the bookkeeping the scheduler and the engine call
  // ---------------------------------------------------------------------------------------------

  // kWaiting or kRunning (admission, preemption). InvalidArgument for kFinished (use finish()) or for a
  // finished sequence.
  void set_status(RequestStatus status);
  // Ends the request now with `reason` (not kNone): Scheduler::abort uses it with kAborted.
  void finish(FinishReason reason);
  // After a forward pass stored the K/V of the next n pending tokens: num_computed += n. InvalidArgument
  // when that would pass the table's length (slots that were never appended) or num_tokens().
  void mark_computed(Index n);
  // Preemption: the table must already be released (empty); forgets every computed position, so that
  // all tokens are pending again and will be recomputed, and counts the preemption. The generated
  // tokens and the generator's state are kept: the request continues exactly where it stopped.
  void forget_computed();

  Rng& rng() { return rng_; }  // this request's generator (tests look at it)

 private:
  RequestId id_;
  Request request_;
  std::vector<std::int32_t> tokens_;  // (N) prompt, then generated
  Index num_computed_ = 0;
  BlockTable table_;
  Rng rng_;
  RequestStatus status_ = RequestStatus::kWaiting;
  FinishReason finish_reason_ = FinishReason::kNone;
  int num_preemptions_ = 0;
};

}  // namespace llm
