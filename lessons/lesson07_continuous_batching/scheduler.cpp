// scheduler.cpp — YOUR lesson 07 work, steps 2, 5 and 6: one step's schedule within the pool and the
// token budget, preemption of the newest running sequence, and abort. The constructor and add() are
// given in given.cpp. The reference is solutions/lesson07_continuous_batching/scheduler.cpp — try
// before you look.
//
// Legend: T tokens a sequence feeds in this step, BS block_size. Members (scheduler.h): pool_ the
// block pool, config_ {max_running, max_tokens_per_step}, waiting_ (front = next to admit), running_
// (admission order: back = newest).
#include "scheduler.h"

#include <algorithm>

#include "llm/errors.h"

namespace llm {

Schedule Scheduler::schedule() {
  // TODO(step 2): budget = config_.max_tokens_per_step.
  //   pass 1, over running_ by index, oldest first (preemption removes from the back while you loop):
  //     T = min(num_pending(), budget): 1 for a decode, a chunk of a prompt; T == 0: the budget is spent,
  //       stop pass 1 (only the newest running sequence can be in the middle of its prompt, see the header);
  //     while !pool_->can_allocate(seq->table().blocks_needed(T)): victim = preempt_newest() (step 5),
  //       record it in out.preempted; if the victim is seq itself, stop pass 1;
  //     else seq->table().append(T), budget -= T, out.chunks.push_back({seq, T}).
  //   pass 2, only when nothing was preempted: while waiting_ is not empty, num_running() < max_running
  //     and budget > 0: the FRONT fits when pool_->can_allocate(blocks_needed(its num_pending())); if
  //     not, stop (FCFS: nobody overtakes). Else pop it, set_status(kRunning), push it to running_,
  //     append a chunk of T = min(num_pending(), budget), budget -= T, record the chunk.
  throw NotImplemented("lesson07 step 2: schedule one step (decodes, prefill chunks, FCFS admission)");
}

void Scheduler::finish(Sequence& seq) {
  // TODO(step 2): InvalidArgument naming the request when it is not in running_ or not kFinished.
  //   Erase it from running_ (keep the others' order) and release its table: its blocks go back now.
  (void)seq;
  throw NotImplemented(
      "lesson07 step 2: retire a finished sequence (out of the running set, blocks released)");
}

Sequence* Scheduler::preempt_newest() {
  // TODO(step 5): nullptr when running_ is empty. Else the victim is running_.back() (the newest): pop
  //   it, release its table, forget_computed() (given: everything pending again, the count + 1),
  //   set_status(kWaiting) and push it to the FRONT of waiting_. Return it.
  throw NotImplemented(
      "lesson07 step 5: preempt the newest running sequence (blocks back, front of the queue)");
}

Sequence* Scheduler::abort(RequestId id) {
  // TODO(step 6): find the sequence with this id in waiting_, else in running_; none: return nullptr
  //   and change nothing. Erase it from its queue (the others keep their order), release its table and
  //   finish(FinishReason::kAborted). Return it.
  (void)id;
  throw NotImplemented("lesson07 step 6: abort a waiting or running request (blocks back at once)");
}

}  // namespace llm
