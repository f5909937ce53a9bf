// scheduler.h — lesson 07's contract, part 2: the scheduler. Before every step it decides which
// sequences run and how many of their pending tokens each one feeds, within two limits: the blocks of
// the pool and a token budget per step. Iteration-level scheduling (Orca): a request joins the batch at
// the step after it arrives and leaves it at the step it finishes, instead of a batch being formed once
// and run until its longest member is done. Not here: priorities, fairness beyond first come first
// served, swapping blocks to CPU memory (a preempted sequence is recomputed), prefix caching.
//
// Dimension legend (docs/dimensions.md): T tokens a sequence feeds in one step (1 for a decode, up to
// the budget for a prefill chunk), BS block_size, NB num_blocks.
#pragma once

#include <deque>
#include <vector>

#include "block_pool.h"  // lesson 06 (reference)
#include "request.h"

namespace llm {

struct SchedulerConfig {
  Index max_running = 16;           // at most this many sequences in the running set (the batch size)
  Index max_tokens_per_step = 256;  // the token budget of one step: decode tokens + prefill chunk tokens;
                                    // >= max_running, so every running sequence can always decode
};

// Limits check_scheduler_config enforces.
inline constexpr Index kMaxRunning = 4096;
inline constexpr Index kMaxTokensPerStep = Index{1} << 20;

// Given. InvalidArgument naming the value and the limit unless 1 <= max_running <= kMaxRunning and
// max_running <= max_tokens_per_step <= kMaxTokensPerStep.
void check_scheduler_config(const SchedulerConfig& config);

// One sequence's share of a step: its next num_tokens pending tokens, at positions num_computed() ..
// num_computed() + num_tokens - 1. Their slots are already appended to its table.
struct ScheduledChunk {
  Sequence* seq = nullptr;
  Index num_tokens = 0;  // T >= 1
  // True when the chunk reaches the sequence's last token: the logits of its last position then give
  // the next token. False for a prefill chunk that leaves part of the prompt for later steps.
  bool samples() const { return seq->num_computed() + num_tokens == seq->num_tokens(); }
};

// What schedule() decided for one step.
struct Schedule {
  std::vector<ScheduledChunk> chunks;  // the running set's order: the oldest first; admitted ones last
  std::vector<Sequence*> preempted;    // sent back to the waiting queue by this step, newest first
  Index num_tokens() const {           // tokens this step runs through the model (<= the budget)
    Index n = 0;
    for (const ScheduledChunk& c : chunks) n += c.num_tokens;
    return n;
  }
  bool empty() const { return chunks.empty(); }
};

class Scheduler {
 public:
  // Given. An empty scheduler over `pool`, which must outlive it. check_scheduler_config runs first.
  Scheduler(BlockPool& pool, SchedulerConfig config);

  // Given. Puts a waiting sequence with nothing computed and an empty table at the BACK of the waiting
  // queue (first come, first served). InvalidArgument otherwise.
  void add(Sequence& seq);

  // ---------------------------------------------------------------------------------------------
  // Step 2: one step's schedule
  // ---------------------------------------------------------------------------------------------

  // Decides the next step and reserves its slots (BlockTable::append), in two passes.
  //  pass 1 — the running set, oldest first: each sequence gets min(pending, budget left) tokens — one
  //    for a decode, a chunk for a prompt. Decodes come first by construction (admission stops when the
  //    budget does, so only the newest running sequence can be in the middle of its prompt), and the
  //    budget is at least max_running: every decode gets its token in every step. When the pool cannot
  //    give a sequence the blocks of its chunk (BlockTable::blocks_needed), the newest running sequence
  //    is preempted (preempt_newest, step 5), again until the blocks are there; a sequence that has to
  //    preempt itself gets nothing this step, and then nothing newer is left.
  //  pass 2 — admission, only if nothing was preempted in pass 1: while the running set has room
  //    (max_running), budget is left and the FRONT of the waiting queue fits — all its pending tokens'
  //    blocks free now — it joins the running set (status kRunning) with a chunk of min(pending, budget
  //    left). The first request that does not fit stops admission: nobody overtakes it (FCFS).
  // Every chunk's slots are appended to its table before schedule() returns; the sum of the chunks
  // never exceeds max_tokens_per_step. Nothing to run: an empty Schedule.
  Schedule schedule();

  // A sequence that finished (Sequence::append_token said so) leaves the running set — the others keep
  // their order — and its table is released: every block back in the pool at once. InvalidArgument
  // naming the request when it is not running or not finished.
  void finish(Sequence& seq);

  // ---------------------------------------------------------------------------------------------
  // Step 5: preemption
  // ---------------------------------------------------------------------------------------------

  // The pool ran out: the NEWEST running sequence (the last one admitted) gives its blocks back
  // (table released, Sequence::forget_computed) and goes to the FRONT of the waiting queue (status
  // kWaiting): it arrived before everything still waiting, so it is admitted again first, and is then
  // recomputed — prompt and generated tokens — before it produces its next token. Returns it; nullptr
  // when nothing is running.
  Sequence* preempt_newest();

  // ---------------------------------------------------------------------------------------------
  // Step 6: abort
  // ---------------------------------------------------------------------------------------------

  // Cancels request `id` wherever it is (waiting or running): out of its queue (the others keep their
  // order), its table released at once, finished with kAborted. Returns the sequence; nullptr when no
  // waiting or running sequence has that id (unknown, or already finished) — nothing changes then.
  Sequence* abort(RequestId id);

  // Given.
  Index num_waiting() const { return static_cast<Index>(waiting_.size()); }
  Index num_running() const { return static_cast<Index>(running_.size()); }
  const std::deque<Sequence*>& waiting() const { return waiting_; }   // the front is admitted next
  const std::vector<Sequence*>& running() const { return running_; }  // admission order: the back is newest
  BlockPool& pool() const { return *pool_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  BlockPool* pool_;
  SchedulerConfig config_;
  std::deque<Sequence*> waiting_;   // first come, first served; preempted sequences go back to the front
  std::vector<Sequence*> running_;  // admitted, in admission order
};

}  // namespace llm
