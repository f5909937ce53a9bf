// request.cpp — lesson 07 reference, step 1: a request's own sampling and its end.
//
// Legend: N tokens of the sequence (prompt + generated), V vocab_size.
#include "request.h"

#include <algorithm>

#include "llm/errors.h"

namespace llm {

// Step 1a. The whole of lesson 04's chain, with what belongs to THIS request: its parameters, its
// history and its generator. A generator shared by the batch would hand each request whichever draws
// the requests before it in the batch left over, so its text would depend on its neighbours.
std::int32_t Sequence::sample(std::span<float> logits) {
  return sample_next(logits, tokens_, request_.sampling, rng_);
}

// Step 1b.
FinishReason Sequence::append_token(std::int32_t token) {
  if (status_ == RequestStatus::kFinished)
    fail<InvalidArgument>("append_token: request ", id_, " is already finished (", to_string(finish_reason_),
                          "): a finished request takes no more tokens");
  tokens_.push_back(token);
  FinishReason reason = FinishReason::kNone;
  const std::vector<std::int32_t>& stops = request_.stop_token_ids;
  if (request_.eos_token_id && token == *request_.eos_token_id)
    reason = FinishReason::kEos;  // checked first: eos on the last allowed token is still an eos
  else if (std::find(stops.begin(), stops.end(), token) != stops.end())
    reason = FinishReason::kStop;
  else if (num_generated() >= request_.max_new_tokens)
    reason = FinishReason::kLength;
  if (reason != FinishReason::kNone) finish(reason);
  return reason;
}

}  // namespace llm
