// engine.cpp — YOUR lesson 07 work, step 4: the engine's step. Set-up, submit() and abort() are given
// in given.cpp. The reference is solutions/lesson07_continuous_batching/engine.cpp — try before you look.
//
// Legend: T tokens a sequence feeds in this step, R sequences that sample, V vocab_size. Members
// (engine.h): model_, scheduler_, live_ (id -> the Sequence), aborted_ (outputs for the next step),
// num_steps_.
#include "engine.h"

#include <utility>

#include "model_runner.h"

namespace llm {

StepResult Engine::step() {
  // TODO(step 4): result.outputs starts with aborted_ (moved out: std::exchange(aborted_, {})).
  //   1. schedule = scheduler_.schedule(); the ids of schedule.preempted go to result.preempted; an empty
  //      schedule: return the result as it is.
  //   2. one BatchEntry per chunk: {&seq->table(), seq->num_computed(), its tokens from num_computed()
  //      on, num_tokens of them, chunk.samples()}; logits = batched_forward(*model_, batch). If it
  //      throws: crop every chunk's table back to its num_computed(), then rethrow. ++num_steps_;
  //      result.num_tokens = schedule.num_tokens(), result.num_sequences = number of chunks.
  //   3. per chunk, in order: samples = chunk.samples() (ask before the next call changes it);
  //      seq.mark_computed(num_tokens); not sampling: next chunk. Else token = seq.sample(next logits
  //      row); seq.append_token(token): kNone -> an output {id, {token}}; finished -> final_output(seq,
  //      {token}) (given), then scheduler_.finish(seq) and live_.erase(id) — in that order.
  throw NotImplemented("lesson07 step 4: the engine step (schedule, one batched forward, sample, retire)");
}

}  // namespace llm
