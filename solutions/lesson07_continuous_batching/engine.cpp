// engine.cpp — lesson 07 reference, step 4: the engine's step — schedule, one batched forward pass,
// one token for every sequence that reached its last token, retire the finished ones. Set-up,
// submission and abort are given (given.cpp).
//
// Legend: T tokens a sequence feeds in this step, R sequences that sample, V vocab_size.
#include "engine.h"

#include <utility>

#include "model_runner.h"

namespace llm {

// Step 4.
StepResult Engine::step() {
  StepResult result;
  result.outputs = std::exchange(aborted_, {});  // aborts since the last step are reported first

  // 1. who runs, with how many tokens; the slots of every chunk are appended by now.
  const Schedule schedule = scheduler_.schedule();
  for (const Sequence* seq : schedule.preempted) result.preempted.push_back(seq->id());
  if (schedule.empty()) return result;

  // 2. one forward pass for all of them: chunk i feeds tokens num_computed .. num_computed + T - 1.
  std::vector<BatchEntry> batch;
  batch.reserve(schedule.chunks.size());
  for (const ScheduledChunk& c : schedule.chunks) {
    const std::span<const std::int32_t> all(c.seq->tokens());
    batch.push_back(
        {.table = &c.seq->table(),
         .first = c.seq->num_computed(),
         .tokens = all.subspan(static_cast<size_t>(c.seq->num_computed()), static_cast<size_t>(c.num_tokens)),
         .wants_logits = c.samples()});
  }
  Tensor logits;  // (R, V)
  try {
    logits = batched_forward(*model_, batch);
  } catch (...) {
    for (const ScheduledChunk& c : schedule.chunks) c.seq->table().crop(c.seq->num_computed());
    throw;
  }
  ++num_steps_;
  result.num_tokens = schedule.num_tokens();
  result.num_sequences = static_cast<Index>(schedule.chunks.size());

  // 3. per chunk: its K/V are stored; a chunk that reached the last token samples the next one.
  Index row = 0;
  for (const ScheduledChunk& c : schedule.chunks) {
    Sequence& seq = *c.seq;
    const bool samples = c.samples();  // asked before mark_computed changes the answer
    seq.mark_computed(c.num_tokens);
    if (!samples) continue;  // a prefill chunk in the middle of the prompt: nothing to say yet
    const std::int32_t token = seq.sample(logits.row(row++));  // its own generator, its own history
    if (seq.append_token(token) == FinishReason::kNone) {
      result.outputs.push_back({.id = seq.id(), .new_tokens = {token}});
      continue;
    }
    result.outputs.push_back(final_output(seq, {token}));
    scheduler_.finish(seq);  // out of the running set, blocks back in the pool
    live_.erase(seq.id());   // the Sequence is destroyed: nothing refers to it any more
  }
  return result;
}

}  // namespace llm
