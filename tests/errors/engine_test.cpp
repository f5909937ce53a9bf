// engine_test.cpp — the rows of docs/errors.md's "continuous batching engine" table, one test case per row,
// in the table's order and under the row's name: requests refused at submission, engine and scheduler
// configurations, batches the model runner refuses, and misuse of a sequence or the scheduler (lesson 07's
// reference). Each case checks the exception TYPE and that what() names the offending value and the limit,
// and that a refused call changed nothing. LLM_SHOW_ERRORS=1 prints every message checked.
//
// Legend: BS block_size, NB num_blocks, V vocab.
#include <doctest/doctest.h>

#include <cstdlib>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "causal_lm.h"
#include "engine.h"
#include "expect_message.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "model_runner.h"
#include "request.h"
#include "scheduler.h"
#include "test_support.h"

using llm::BlockPool;
using llm::BlockTable;
using llm::Engine;
using llm::Index;
using llm::InvalidArgument;
using llm::ModelConfig;
using llm::Request;
using Ids = std::vector<std::int32_t>;
using llm::testing::expect_message;

namespace {

Request request(Ids prompt, int max_new_tokens) {
  Request r;
  r.prompt = std::move(prompt);
  r.max_new_tokens = max_new_tokens;
  r.sampling.temperature = 0.0f;
  return r;
}

}  // namespace

TEST_CASE("engine request refused at submission") {
  const llm::CausalLM model(ModelConfig::tiny(), 1);  // V 64, 64 positions
  Engine engine(model, {.num_blocks = 4, .block_size = 8, .max_running = 2, .max_tokens_per_step = 16});
  expect_message<InvalidArgument>([&] { engine.submit(request({}, 4)); }, {"prompt is empty"});
  expect_message<InvalidArgument>(
      [&] {
        engine.submit(request({5, 64}, 4));
      },
      {"token id 64 at index 1", "[0, 64)"});
  expect_message<InvalidArgument>([&] { engine.submit(request({5, -1}, 4)); }, {"token id -1", "[0, 64)"});
  expect_message<InvalidArgument>([&] { engine.submit(request({5}, 0)); }, {"max_new_tokens = 0", ">= 1"});
  expect_message<InvalidArgument>(
      [&] {
        engine.submit(request({5, 6}, 63));
      },
      {"= 65", "max_position_embeddings = 64"});
  expect_message<InvalidArgument>([&] { engine.submit(request(Ids(20, 5), 20)); },
                                  {"40 positions need 5 blocks of 8", "the pool's 4", "could never run"});
  Request r = request({5}, 4);
  r.sampling.temperature = std::numeric_limits<float>::infinity();
  expect_message<InvalidArgument>([&] { engine.submit(r); }, {"temperature = inf"});
  r = request({5}, 4);
  r.sampling.top_p = 1.5f;
  expect_message<InvalidArgument>([&] { engine.submit(r); }, {"top_p = 1.5", "(0, 1]"});
  r = request({5}, 4);
  r.sampling.repetition_penalty = 0.0f;
  expect_message<InvalidArgument>([&] { engine.submit(r); }, {"repetition_penalty = 0", "[0.001, 1000]"});
  r = request({5}, 4);
  r.eos_token_id = 64;
  expect_message<InvalidArgument>([&] { engine.submit(r); }, {"eos_token_id = 64", "[0, 64)"});
  r = request({5}, 4);
  r.stop_token_ids = {3, 99};
  expect_message<InvalidArgument>([&] { engine.submit(r); }, {"stop_token_ids[1] = 99", "[0, 64)"});
  r = request({5}, 4);
  r.stop_token_ids = Ids(llm::kMaxStopTokenIds + 1, 3);
  expect_message<InvalidArgument>([&] { engine.submit(r); }, {"1025 stop_token_ids", "limit of 1024"});
  CHECK_MESSAGE((engine.num_waiting() == 0 && engine.num_blocks_used() == 0 && !engine.has_unfinished()),
                "refused requests change nothing");
  CHECK_MESSAGE(engine.submit(request({5}, 4)) == 0, "refused requests take no id");
}

TEST_CASE("engine configuration out of range") {
  const llm::CausalLM model(ModelConfig::tiny(), 1);
  expect_message<InvalidArgument>([&] { Engine(model, {.max_running = 0}); },
                                  {"max_running = 0", "[1, 4096]"});
  expect_message<InvalidArgument>([&] { Engine(model, {.max_running = 8, .max_tokens_per_step = 4}); },
                                  {"max_tokens_per_step = 4", "max_running = 8"});
  expect_message<InvalidArgument>([&] { Engine(model, {.block_size = 0}); }, {"block_size = 0", "[1, 4096]"});
  expect_message<InvalidArgument>([&] { Engine(model, {.num_blocks = -3}); }, {"num_blocks = -3"});
  BlockPool pool(ModelConfig::tiny(), 4, 4);
  expect_message<InvalidArgument>(
      [&] { llm::Scheduler(pool, {.max_running = 5000, .max_tokens_per_step = 6000}); },
      {"max_running = 5000", "[1, 4096]"});
}

TEST_CASE("engine batch that does not fit the model") {
  const ModelConfig cfg = ModelConfig::tiny();
  const llm::CausalLM model(cfg, 1);
  BlockPool pool(cfg, 8, 4), other(ModelConfig::lesson(), 4, 4);
  BlockTable a(pool), b(other);
  a.append(3);
  b.append(2);
  const Ids ids = {5, 6, 7}, bad = {5, 64, 7};
  expect_message<InvalidArgument>([&] { llm::batched_forward(model, {}); }, {"the batch is empty"});
  llm::BatchEntry e{nullptr, 0, ids, true};
  expect_message<InvalidArgument>([&] { llm::batched_forward(model, std::span(&e, 1)); },
                                  {"batch entry 0 has no block table"});
  e = {&a, 0, bad, true};
  expect_message<InvalidArgument>([&] { llm::batched_forward(model, std::span(&e, 1)); },
                                  {"token id 64 at batch entry 0 index 1", "[0, 64)"});
  e = {&a, 1, ids, true};
  expect_message<InvalidArgument>([&] { llm::batched_forward(model, std::span(&e, 1)); },
                                  {"positions [1, 4)", "[0, 3)", "append the slots first"});
  const llm::BatchEntry twice[] = {{&a, 0, ids, false}, {&a, 0, ids, true}};
  expect_message<InvalidArgument>([&] { llm::batched_forward(model, twice); },
                                  {"batch entry 1 uses the same block table"});
  e = {&b, 0, std::span(ids).first(2), true};
  expect_message<InvalidArgument>([&] { llm::batched_forward(model, std::span(&e, 1)); },
                                  {"a pool made for another model"});
  CHECK_MESSAGE((a.length() == 3 && pool.num_used() == 1), "refused batches change no table");
}

TEST_CASE("engine sequence or scheduler misuse") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  llm::Scheduler sched(pool, {.max_running = 2, .max_tokens_per_step = 8});
  llm::Sequence seq(7, request({5, 6}, 1), pool);
  expect_message<InvalidArgument>([&] { seq.mark_computed(1); },
                                  {"request 7", "mark_computed(1)", "0 slots"});
  seq.table().append(2);
  expect_message<InvalidArgument>([&] { seq.forget_computed(); }, {"request 7", "release the table first"});
  expect_message<InvalidArgument>([&] { sched.add(seq); },
                                  {"request 7", "2 in its table", "only a new waiting request"});
  seq.table().release();
  REQUIRE(seq.append_token(9) == llm::FinishReason::kLength);
  expect_message<InvalidArgument>([&] { seq.append_token(9); }, {"request 7 is already finished (length)"});
  expect_message<InvalidArgument>([&] { seq.set_status(llm::RequestStatus::kRunning); },
                                  {"request 7 is finished"});
  expect_message<InvalidArgument>([&] { sched.finish(seq); }, {"request 7", "not in the running set"});
  CHECK_MESSAGE(sched.abort(7) == nullptr,
                "abort of an id the scheduler does not hold is nullptr, not an error");
}
