// request.cpp — YOUR lesson 07 work, step 1: a request's own sampling and its end. The constructor and
// the bookkeeping (set_status, finish, mark_computed, forget_computed) are given in given.cpp.
// The reference is solutions/lesson07_continuous_batching/request.cpp — try before you look.
//
// Legend: N tokens of the sequence (prompt + generated), V vocab_size. Members (request.h): request_
// what the client asked for, tokens_ (N) prompt then generated, rng_ this request's generator,
// status_ and finish_reason_.
#include "request.h"

#include <algorithm>

#include "llm/errors.h"

namespace llm {

std::int32_t Sequence::sample(std::span<float> logits) {
  // TODO(step 1): lesson 04's sample_next(logits, history, params, rng) with THIS request's parameters
  //   (request_.sampling), its whole history (tokens_: the prompt and what it generated) and its OWN
  //   generator rng_ — never one shared by the batch.
  (void)logits;
  throw NotImplemented("lesson07 step 1: sample with the request's own parameters, history and generator");
}

FinishReason Sequence::append_token(std::int32_t token) {
  // TODO(step 1): InvalidArgument naming the request (id_) when it is already finished. Otherwise push
  //   the token onto tokens_ and decide, in this order: it is request_.eos_token_id -> kEos; it is one of
  //   request_.stop_token_ids -> kStop; num_generated() reached request_.max_new_tokens -> kLength.
  //   When one applies, finish(reason) (given) and return it; else return kNone.
  (void)token;
  throw NotImplemented(
      "lesson07 step 1: append a token and decide whether the request is done (eos, stop, length)");
}

}  // namespace llm
