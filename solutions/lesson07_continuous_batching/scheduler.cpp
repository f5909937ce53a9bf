// scheduler.cpp — lesson 07 reference, steps 2, 5 and 6: one step's schedule (the running set's decodes
// and prefill chunks, then first-come-first-served admission, within the pool and the token budget),
// preemption of the newest running sequence, and abort.
//
// Legend: T tokens a sequence feeds in this step, BS block_size.
#include "scheduler.h"

#include <algorithm>

#include "llm/errors.h"

namespace llm {

// Step 2.
Schedule Scheduler::schedule() {
  Schedule out;
  Index budget = config_.max_tokens_per_step;

  // pass 1: the running set, oldest first. Decodes come first by construction: a sequence is admitted
  // only while the budget lasts, so everything admitted before it has reached the end of its prompt by
  // then, and only the newest running sequence can still be in the middle of one. Each decode gets its
  // token (the budget is at least max_running); that prompt gets what the budget leaves.
  for (size_t i = 0; i < running_.size(); ++i) {  // running_ may shrink from the back (preemption)
    Sequence* seq = running_[i];
    const Index T = std::min(seq->num_pending(), budget);  // 1 for a decode, a chunk of a prompt otherwise
    if (T == 0) break;  // the budget is spent (by that prompt's chunks in earlier steps: nothing follows it)
    // The pool is short: give back the newest running sequence's blocks until this chunk fits. Victims
    // come from the back, so they were not scheduled yet in this pass — unless it is this one itself.
    bool preempted_self = false;
    while (!pool_->can_allocate(seq->table().blocks_needed(T))) {
      Sequence* victim = preempt_newest();  // step 5
      out.preempted.push_back(victim);
      if (victim == seq) {
        preempted_self = true;
        break;
      }
    }
    if (preempted_self) break;  // it was the newest: nothing after it is left running
    seq->table().append(T);     // the chunk's slots: positions num_computed .. num_computed + T - 1
    budget -= T;
    out.chunks.push_back({seq, T});
  }

  // pass 2: admission, first come first served. Not after a preemption: the pool is already short, and a
  // newcomer would only push someone out again in the next step.
  if (!out.preempted.empty()) return out;
  while (!waiting_.empty() && num_running() < config_.max_running && budget > 0) {
    Sequence* seq = waiting_.front();
    // All of its pending tokens must fit now, though only the first chunk's blocks are taken; the head
    // of the queue that does not fit waits, and so does everyone behind it (nobody overtakes).
    if (!pool_->can_allocate(seq->table().blocks_needed(seq->num_pending()))) break;
    const Index T = std::min(seq->num_pending(), budget);
    waiting_.pop_front();
    seq->set_status(RequestStatus::kRunning);
    running_.push_back(seq);
    seq->table().append(T);
    budget -= T;
    out.chunks.push_back({seq, T});
  }
  return out;
}

// Step 2.
void Scheduler::finish(Sequence& seq) {
  const auto it = std::find(running_.begin(), running_.end(), &seq);
  if (it == running_.end() || seq.status() != RequestStatus::kFinished)
    fail<InvalidArgument>("Scheduler::finish: request ", seq.id(), " is ", to_string(seq.status()),
                          it == running_.end() ? " and not in the running set" : " and not finished");
  running_.erase(it);     // the others keep their order
  seq.table().release();  // every block back in the pool, now
}

// Step 5.
Sequence* Scheduler::preempt_newest() {
  if (running_.empty()) return nullptr;
  Sequence* victim = running_.back();  // the last admitted: it has the least work to lose
  running_.pop_back();
  victim->table().release();
  victim->forget_computed();  // prompt and generated tokens are pending again: recomputed on readmission
  victim->set_status(RequestStatus::kWaiting);
  waiting_.push_front(victim);  // it came before everything still waiting
  return victim;
}

// Step 6.
Sequence* Scheduler::abort(RequestId id) {
  Sequence* seq = nullptr;
  const auto same = [id](const Sequence* s) { return s->id() == id; };
  if (const auto w = std::find_if(waiting_.begin(), waiting_.end(), same); w != waiting_.end()) {
    seq = *w;
    waiting_.erase(w);
  } else if (const auto r = std::find_if(running_.begin(), running_.end(), same); r != running_.end()) {
    seq = *r;
    running_.erase(r);
  } else {
    return nullptr;
  }
  seq->table().release();  // a preempted or waiting sequence holds none; a running one gives them back now
  seq->finish(FinishReason::kAborted);
  return seq;
}

}  // namespace llm
