// basic_test.cpp — lesson 07's basic suite: small hand-checked cases for each step — a request's own
// sampling and its end (1), one step's schedule (2), the batched forward pass (3), the engine's step
// against lesson 04 alone (4), preemption (5) and abort (6).
// Not here: seeded random workloads of 50+ requests, pools that force preemption over a whole run, the
// real stories260K model, the invariants checked after every step of a long run — those are in
// advanced_test.cpp.
//
// Legend: N tokens of a sequence, T tokens a sequence feeds in one step, BS block_size, NB num_blocks,
// V vocab_size.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "block_pool.h"
#include "causal_lm.h"
#include "engine.h"
#include "lesson04_baselines.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/rng.h"
#include "model_runner.h"
#include "paged_model.h"
#include "request.h"
#include "sampler.h"
#include "scheduler.h"
#include "test_engine.h"
#include "test_support.h"

using lesson07_test::Ids;
using llm::BlockPool;
using llm::Engine;
using llm::FinishReason;
using llm::Index;
using llm::InvalidArgument;
using llm::ModelConfig;
using llm::Request;
using llm::RequestStatus;
using llm::Scheduler;
using llm::Sequence;
using llm::Tensor;
using llm::testing::contains;
using llm::testing::error_message;

namespace {

// A row of V logits, all equal: every draw of a sampled request is then decided by its generator alone.
std::vector<float> flat_logits(int vocab) { return std::vector<float>(static_cast<size_t>(vocab), 0.0f); }

}  // namespace

// ------------------------------------------------------------------------------------------------
// Step 1: the request
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 1: each request draws from its own generator seeded with its own seed") {
  BlockPool pool(ModelConfig::tiny(), 4, 4);
  Request r = lesson07_test::sampled({5, 6}, 8, /*seed=*/7);
  r.sampling = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .repetition_penalty = 1.0f};
  Sequence a(0, r, pool), b(1, r, pool);
  r.seed = 8;
  Sequence c(2, r, pool);
  // What lesson 04's chain draws from a fresh Rng(7): the reference sequence of tokens.
  llm::Rng reference(7);
  Ids expected;
  for (int i = 0; i < 6; ++i) {
    std::vector<float> row = flat_logits(64);
    expected.push_back(llm::sample_next(row, Ids{}, r.sampling, reference));
  }
  Ids from_a, from_b, from_c;
  for (int i = 0; i < 6; ++i) {  // a draws twice as often as b: b must not notice
    std::vector<float> row = flat_logits(64);
    from_a.push_back(a.sample(row));
    row = flat_logits(64);
    from_a.push_back(a.sample(row));
    if (i < 3) {
      row = flat_logits(64);
      from_b.push_back(b.sample(row));
    }
    row = flat_logits(64);
    from_c.push_back(c.sample(row));
  }
  CHECK_MESSAGE(Ids(from_a.begin(), from_a.begin() + 6) == expected,
                "a request with seed 7 draws exactly what lesson 04's sample_next draws from Rng(7)");
  CHECK_MESSAGE(
      from_b == Ids(expected.begin(), expected.begin() + 3),
      "another request with seed 7 draws the same tokens, however often its neighbour drew: each request "
      "has its OWN generator, never one shared by the batch");
  CHECK_MESSAGE(from_c != Ids(expected.begin(), expected.begin() + 6),
                "seed 8 draws other tokens than seed 7");
}

TEST_CASE("step 1: greedy requests take the largest logit and draw nothing from their generator") {
  BlockPool pool(ModelConfig::tiny(), 4, 4);
  Sequence seq(0, lesson07_test::greedy({5, 6}, 4), pool);
  std::vector<float> row = flat_logits(64);
  row[17] = 3.0f;
  CHECK_MESSAGE(seq.sample(row) == 17, "temperature 0 is greedy: the largest logit");
  CHECK_MESSAGE(seq.rng().next_u64() == llm::Rng(0).next_u64(),
                "a greedy request must not draw from its generator (lesson 04's generate() does not either)");
}

TEST_CASE("step 1: the repetition penalty sees the prompt and the generated tokens") {
  BlockPool pool(ModelConfig::tiny(), 4, 4);
  Request r = lesson07_test::greedy({9, 10}, 4);
  r.sampling.repetition_penalty = 4.0f;
  Sequence seq(0, r, pool);
  std::vector<float> row = flat_logits(64);
  row[9] = 3.0f, row[30] = 2.0f, row[31] = 1.5f;
  CHECK_MESSAGE(seq.sample(row) == 30,
                "prompt token 9 is penalised (3 / 4 < 2): the history starts with the prompt");
  seq.append_token(30);
  row = flat_logits(64);
  row[30] = 3.0f, row[31] = 1.5f;
  CHECK_MESSAGE(seq.sample(row) == 31,
                "generated token 30 is penalised too: the history is prompt + generated");
}

TEST_CASE("step 1: append_token finishes on eos then a stop id then the length") {
  BlockPool pool(ModelConfig::tiny(), 4, 4);
  Request r = lesson07_test::greedy({5}, 3);
  r.eos_token_id = 2;
  r.stop_token_ids = {7, 8};
  {
    Sequence seq(0, r, pool);
    CHECK_MESSAGE(seq.append_token(11) == FinishReason::kNone,
                  "an ordinary token does not finish the request");
    CHECK(seq.status() == RequestStatus::kWaiting);
    CHECK_MESSAGE(seq.append_token(8) == FinishReason::kStop, "a stop id finishes the request with 'stop'");
    CHECK_MESSAGE(seq.status() == RequestStatus::kFinished, "a request that finished has status finished");
    CHECK_MESSAGE(seq.generated().back() == 8, "the stop token is kept as the last generated token");
  }
  {
    Sequence seq(1, r, pool);
    seq.append_token(11);
    seq.append_token(12);
    CHECK_MESSAGE(seq.append_token(2) == FinishReason::kEos,
                  "eos on the last allowed token is 'eos', not 'length': eos is checked first");
    CHECK(seq.finish_reason() == FinishReason::kEos);
  }
  {
    Sequence seq(2, r, pool);
    seq.append_token(11);
    CHECK(seq.append_token(12) == FinishReason::kNone);
    CHECK_MESSAGE(seq.append_token(13) == FinishReason::kLength,
                  "the max_new_tokens-th token finishes with 'length'");
    CHECK(seq.num_generated() == 3);
  }
}

TEST_CASE("step 1: a finished request takes no more tokens") {
  BlockPool pool(ModelConfig::tiny(), 4, 4);
  Sequence seq(41, lesson07_test::greedy({5}, 1), pool);
  REQUIRE(seq.append_token(9) == FinishReason::kLength);
  const std::string msg = error_message<InvalidArgument>([&] { seq.append_token(10); });
  CHECK_MESSAGE(contains(msg, "41"),
                "appending to a finished request is refused, naming the request: " << msg);
  CHECK_MESSAGE(seq.num_generated() == 1, "the refused token is not added");
}

// ------------------------------------------------------------------------------------------------
// Step 2: the scheduler
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 2: a new request is admitted with its whole prompt as one chunk") {
  BlockPool pool(ModelConfig::tiny(), 16, 4);
  Scheduler sched(pool, {.max_running = 4, .max_tokens_per_step = 64});
  lesson07_test::Sequences s;
  Sequence& a = s.make(pool, 10, 3);
  sched.add(a);
  const llm::Schedule plan = sched.schedule();
  REQUIRE_MESSAGE(plan.chunks.size() == 1, "one waiting request, room for it: it is admitted");
  CHECK_MESSAGE((plan.chunks[0].seq == &a && plan.chunks[0].num_tokens == 10),
                "its whole prompt (10 tokens) is one chunk");
  CHECK_MESSAGE(plan.chunks[0].samples(),
                "a chunk that reaches the last prompt token samples the first new token");
  CHECK_MESSAGE(a.status() == RequestStatus::kRunning, "an admitted request is running");
  CHECK_MESSAGE(a.table().length() == 10, "schedule() appends the chunk's slots to the table");
  CHECK_MESSAGE(pool.num_used() == 3, "10 positions take ceil(10 / 4) = 3 blocks");
  CHECK_MESSAGE((sched.num_waiting() == 0 && sched.num_running() == 1),
                "the request moved from waiting to running");
}

TEST_CASE("step 2: running requests decode one token each per step") {
  BlockPool pool(ModelConfig::tiny(), 16, 4);
  Scheduler sched(pool, {.max_running = 4, .max_tokens_per_step = 64});
  lesson07_test::Sequences s;
  Sequence& a = s.make(pool, 4, 5);
  Sequence& b = s.make(pool, 6, 5);
  sched.add(a);
  sched.add(b);
  lesson07_test::fake_forward(sched, sched.schedule());  // both prefilled, one token each
  const llm::Schedule plan = sched.schedule();
  REQUIRE(plan.chunks.size() == 2);
  CHECK_MESSAGE((plan.chunks[0].seq == &a && plan.chunks[1].seq == &b),
                "the running set in admission order: a, then b");
  CHECK_MESSAGE((plan.chunks[0].num_tokens == 1 && plan.chunks[1].num_tokens == 1),
                "after the prefill each running request feeds its one new token per step");
  CHECK_MESSAGE(pool.num_used() == 2 + 2,
                "a's 5th position opens its second block; b's 7 positions fit in its two");
  CHECK(plan.num_tokens() == 2);
}

TEST_CASE("step 2: admission is first come first served and stops at the first request that does not fit") {
  BlockPool pool(ModelConfig::tiny(), 6, 4);
  Scheduler sched(pool, {.max_running = 4, .max_tokens_per_step = 64});
  lesson07_test::Sequences s;
  Sequence& a = s.make(pool, 10, 3);  // 3 blocks
  Sequence& b = s.make(pool, 20, 3);  // 5 blocks: not with a
  Sequence& c = s.make(pool, 2, 3);   // 1 block: would fit, but b came first
  for (Sequence* q : {&a, &b, &c}) sched.add(*q);
  const llm::Schedule plan = sched.schedule();
  REQUIRE(plan.chunks.size() == 1);
  CHECK_MESSAGE(plan.chunks[0].seq == &a, "the first request is admitted first");
  CHECK_MESSAGE(
      c.status() == RequestStatus::kWaiting,
      "b does not fit and c must not overtake it: admission stops at the first request that does not fit");
  CHECK_MESSAGE((sched.waiting().front() == &b && sched.waiting().back() == &c),
                "the queue keeps its order: b, c");
}

TEST_CASE("step 2: max_running caps the running set") {
  BlockPool pool(ModelConfig::tiny(), 32, 4);
  Scheduler sched(pool, {.max_running = 2, .max_tokens_per_step = 64});
  lesson07_test::Sequences s;
  for (int i = 0; i < 5; ++i) sched.add(s.make(pool, 3, 4));
  const llm::Schedule plan = sched.schedule();
  CHECK_MESSAGE(plan.chunks.size() == 2, "max_running = 2: two requests run, three wait");
  CHECK(sched.num_running() == 2);
  CHECK(sched.num_waiting() == 3);
}

TEST_CASE("step 2: the token budget splits a long prompt into chunks") {
  BlockPool pool(ModelConfig::tiny(), 16, 4);
  Scheduler sched(pool, {.max_running = 2, .max_tokens_per_step = 8});
  lesson07_test::Sequences s;
  Sequence& a = s.make(pool, 20, 2);
  sched.add(a);
  std::vector<Index> chunks;
  std::vector<bool> samples;
  for (int step = 0; step < 3; ++step) {
    const llm::Schedule plan = sched.schedule();
    REQUIRE(plan.chunks.size() == 1);
    chunks.push_back(plan.chunks[0].num_tokens);
    samples.push_back(plan.chunks[0].samples());
    lesson07_test::fake_forward(sched, plan);
  }
  CHECK_MESSAGE(chunks == std::vector<Index>({8, 8, 4}),
                "a budget of 8 feeds a 20-token prompt as 8 + 8 + 4 (chunked prefill)");
  CHECK_MESSAGE(samples == std::vector<bool>({false, false, true}),
                "only the chunk that reaches the prompt's end samples");
  CHECK_MESSAGE(a.num_generated() == 1, "one token after the third step");
}

TEST_CASE("step 2: decodes are served before a prefill chunk takes the budget") {
  BlockPool pool(ModelConfig::tiny(), 16, 4);
  Scheduler sched(pool, {.max_running = 3, .max_tokens_per_step = 8});
  lesson07_test::Sequences s;
  Sequence& a = s.make(pool, 3, 10);
  Sequence& b = s.make(pool, 30, 2);
  sched.add(a);
  lesson07_test::fake_forward(sched, sched.schedule());  // a prefilled: it decodes from now on
  sched.add(b);
  llm::Schedule plan = sched.schedule();  // a decodes, b is admitted with what is left
  REQUIRE(plan.chunks.size() == 2);
  CHECK_MESSAGE((plan.chunks[0].seq == &a && plan.chunks[0].num_tokens == 1),
                "a decoding request gets its token");
  CHECK_MESSAGE(plan.chunks[1].num_tokens == 7,
                "the newcomer's first chunk is what the budget leaves: 8 - 1 = 7");
  lesson07_test::fake_forward(sched, plan);
  plan = sched.schedule();
  REQUIRE(plan.chunks.size() == 2);
  CHECK_MESSAGE((plan.chunks[0].seq == &a && plan.chunks[0].num_tokens == 1),
                "a request in the middle of a long prefill must not take a decoding request's token");
  CHECK_MESSAGE(plan.chunks[1].num_tokens == 7, "the prefill continues with the rest of the budget");
  CHECK(plan.num_tokens() <= 8);
}

TEST_CASE("step 2: finish releases the blocks and frees the slot for the next request") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  Scheduler sched(pool, {.max_running = 1, .max_tokens_per_step = 16});
  lesson07_test::Sequences s;
  Sequence& a = s.make(pool, 6, 1);
  Sequence& b = s.make(pool, 5, 1);
  sched.add(a);
  sched.add(b);
  llm::Schedule plan = sched.schedule();
  REQUIRE(plan.chunks.size() == 1);
  CHECK_MESSAGE(lesson07_test::fake_forward(sched, plan) == 1,
                "a (max_new_tokens 1) finishes after its first token");
  CHECK_MESSAGE(pool.num_used() == 0,
                "finish() releases the finished request's table: every block back at once");
  CHECK_MESSAGE(sched.num_running() == 0, "finish() takes it out of the running set");
  plan = sched.schedule();
  REQUIRE_MESSAGE(plan.chunks.size() == 1,
                  "the freed slot goes to the next waiting request in the next step");
  CHECK(plan.chunks[0].seq == &b);
  const std::string msg = error_message<InvalidArgument>([&] { sched.finish(b); });
  CHECK_MESSAGE(contains(msg, "1"),
                "finish() of a request that has not finished is refused, naming it: " << msg);
}

// ------------------------------------------------------------------------------------------------
// Step 3: the batched forward pass
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 3: a batch of one prefill gives lesson 06's logits for its last token") {
  const ModelConfig cfg = ModelConfig::lesson();
  const llm::CausalLM model(cfg, 42);
  const Ids prompt = lesson07_test::prompt_ids(9, cfg.vocab_size, 1);
  BlockPool pool(cfg, 8, 4);
  llm::BlockTable paged(pool), batched(pool);
  const Tensor alone = llm::paged_forward(model, paged, prompt);  // (9, V), lesson 06's reference
  batched.append(9);
  const llm::BatchEntry entry{.table = &batched, .first = 0, .tokens = prompt, .wants_logits = true};
  const Tensor logits = llm::batched_forward(model, std::span(&entry, 1));
  REQUIRE_MESSAGE(logits.shape() == llm::Shape({1, cfg.vocab_size}), "one entry that wants logits: (1, V)");
  float worst = 0.0f;
  for (Index j = 0; j < cfg.vocab_size; ++j) worst = std::max(worst, std::fabs(logits(0, j) - alone(8, j)));
  CHECK_MESSAGE(
      worst <= 1e-4f,
      "the batched forward of one sequence is lesson 06's paged_forward (max |diff| " << worst << ")");
}

TEST_CASE("step 3: sequences of different lengths in one batch each get their own logits") {
  const ModelConfig cfg = ModelConfig::lesson();
  const llm::CausalLM model(cfg, 42);
  const Ids a = lesson07_test::prompt_ids(7, cfg.vocab_size, 2),
            b = lesson07_test::prompt_ids(13, cfg.vocab_size, 3),
            c = lesson07_test::prompt_ids(3, cfg.vocab_size, 4);
  BlockPool pool(cfg, 16, 4);
  llm::BlockTable ta(pool), tb(pool), tc(pool);
  llm::paged_forward(model, tb, std::span(b).first(12));  // b has 12 positions cached: it decodes its 13th
  ta.append(7), tb.append(1), tc.append(3);
  const llm::BatchEntry batch[] = {
      {&ta, 0, a, true}, {&tb, 12, std::span(b).subspan(12), true}, {&tc, 0, c, true}};
  const Tensor logits = llm::batched_forward(model, batch);
  REQUIRE_MESSAGE(logits.shape() == llm::Shape({3, cfg.vocab_size}), "three entries want logits: (3, V)");
  const Ids* prompts[] = {&a, &b, &c};
  for (Index i = 0; i < 3; ++i) {
    CAPTURE(i);
    const Tensor full = model.forward(llm::make_ids({*prompts[i]})).logits;  // (1, N, V): lesson 04
    const Index last = static_cast<Index>(prompts[i]->size()) - 1;
    float worst = 0.0f;
    for (Index j = 0; j < cfg.vocab_size; ++j)
      worst = std::max(worst, std::fabs(logits(i, j) - full(0, last, j)));
    REQUIRE_MESSAGE(worst <= 1e-4f,
                    "row i is entry i's last token, as lesson 04's forward gives it: each token at its own "
                    "sequence's position, attending to its own sequence only (max |diff| "
                        << worst << ")");
  }
}

TEST_CASE("step 3: only the entries that want logits get a row in batch order") {
  const ModelConfig cfg = ModelConfig::lesson();
  const llm::CausalLM model(cfg, 42);
  const Ids a = lesson07_test::prompt_ids(5, cfg.vocab_size, 5),
            b = lesson07_test::prompt_ids(6, cfg.vocab_size, 6);
  BlockPool pool(cfg, 16, 4);
  llm::BlockTable ta(pool), tb(pool);
  ta.append(5), tb.append(4);
  // a: a prefill chunk in the middle of its prompt (no logits); b: the first 4 of its 6 tokens, with logits.
  const llm::BatchEntry batch[] = {{&ta, 0, a, false}, {&tb, 0, std::span(b).first(4), true}};
  const Tensor logits = llm::batched_forward(model, batch);
  REQUIRE_MESSAGE(logits.shape() == llm::Shape({1, cfg.vocab_size}),
                  "one of two entries wants logits: (1, V)");
  const Tensor full = model.forward(llm::make_ids({Ids(b.begin(), b.begin() + 4)})).logits;
  float worst = 0.0f;
  for (Index j = 0; j < cfg.vocab_size; ++j) worst = std::max(worst, std::fabs(logits(0, j) - full(0, 3, j)));
  CHECK_MESSAGE(worst <= 1e-4f,
                "the one row is b's last token (entry order, skipping a) (max |diff| " << worst << ")");
  // a's K/V were stored: its next token continues from position 5.
  tb.crop(0);
  ta.append(1);
  const Ids a6 = {a[0], a[1], a[2], a[3], a[4], 17};
  const llm::BatchEntry next{&ta, 5, std::span(a6).subspan(5), true};
  const Tensor step = llm::batched_forward(model, std::span(&next, 1));
  const Tensor expect = model.forward(llm::make_ids({a6})).logits;
  worst = 0.0f;
  for (Index j = 0; j < cfg.vocab_size; ++j) worst = std::max(worst, std::fabs(step(0, j) - expect(0, 5, j)));
  CHECK_MESSAGE(worst <= 1e-4f, "an entry without logits still stores its keys and values in its table");
}

// ------------------------------------------------------------------------------------------------
// Step 4: the engine
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 4: one greedy request through the engine equals lesson 04's generate") {
  const ModelConfig cfg = lesson07_test::lesson_config();
  const llm::CausalLM model(cfg, 42);
  Engine engine(model, {.num_blocks = 64, .block_size = 16, .max_running = 4, .max_tokens_per_step = 64});
  const Request r = lesson07_test::greedy(lesson07_test::prompt_ids(6, cfg.vocab_size, 7), 20);
  const llm::RequestId id = engine.submit(r);
  CHECK_MESSAGE(id == 0, "the first request gets id 0");
  const auto seen = lesson07_test::run_to_end(engine);
  REQUIRE(seen.count(id) == 1);
  CHECK_MESSAGE(seen.at(id).generated == lesson07_baselines::generate_alone(model, r),
                "the engine must generate what lesson 04's generate() does for the same request");
  CHECK_MESSAGE(seen.at(id).reason == FinishReason::kLength, "20 tokens of 20: finished by length");
}

TEST_CASE("step 4: requests submitted together each equal their solo generation and sampled ones too") {
  const ModelConfig cfg = lesson07_test::lesson_config();
  const llm::CausalLM model(cfg, 42);
  Engine engine(model, {.num_blocks = 64, .block_size = 8, .max_running = 4, .max_tokens_per_step = 64});
  std::vector<Request> requests = {
      lesson07_test::greedy(lesson07_test::prompt_ids(5, cfg.vocab_size, 11), 12),
      lesson07_test::sampled(lesson07_test::prompt_ids(9, cfg.vocab_size, 12), 15, 3),
      lesson07_test::sampled(lesson07_test::prompt_ids(2, cfg.vocab_size, 13), 9, 4),
      lesson07_test::greedy(lesson07_test::prompt_ids(14, cfg.vocab_size, 14), 7),
      lesson07_test::sampled(lesson07_test::prompt_ids(9, cfg.vocab_size, 12), 15, 5)};
  lesson07_test::check_against_alone(model, engine, requests);
}

TEST_CASE("step 4: a request submitted while others run joins at the next step") {
  const ModelConfig cfg = lesson07_test::lesson_config();
  const llm::CausalLM model(cfg, 42);
  Engine engine(model, {.num_blocks = 64, .block_size = 8, .max_running = 4, .max_tokens_per_step = 64});
  const Request first = lesson07_test::sampled(lesson07_test::prompt_ids(4, cfg.vocab_size, 21), 12, 1);
  const Request late = lesson07_test::greedy(lesson07_test::prompt_ids(6, cfg.vocab_size, 22), 5);
  engine.submit(first);
  for (int i = 0; i < 3; ++i) engine.step();
  const llm::RequestId id = engine.submit(late);
  const llm::StepResult r = engine.step();
  CHECK_MESSAGE(r.num_sequences == 2,
                "the newcomer runs in the very next step, next to the one already decoding");
  bool got_first_token = false;
  for (const llm::RequestOutput& o : r.outputs)
    got_first_token = got_first_token || (o.id == id && o.new_tokens.size() == 1);
  CHECK_MESSAGE(got_first_token, "its prompt fits the budget: its first token comes out of that same step");
  const auto seen = lesson07_test::run_to_end(engine);
  CHECK_MESSAGE(seen.at(id).generated == lesson07_baselines::generate_alone(model, late),
                "joining a running batch changes nothing in a request's tokens");
  CHECK(seen.at(0).generated == lesson07_baselines::generate_alone(model, first));
}

TEST_CASE("step 4: step reports each new token and the finish reason and every block comes back") {
  const ModelConfig cfg = lesson07_test::lesson_config();
  const llm::CausalLM model(cfg, 42);
  Engine engine(model, {.num_blocks = 32, .block_size = 4, .max_running = 4, .max_tokens_per_step = 32});
  Request r = lesson07_test::greedy(lesson07_test::prompt_ids(3, cfg.vocab_size, 31), 12);
  const Ids alone = lesson07_baselines::generate_alone(model, r);
  size_t k =
      3;  // the first token from the 4th on that did not occur before: made the eos, it ends the answer there
  while (k < alone.size() && std::find(alone.begin(), alone.begin() + static_cast<std::ptrdiff_t>(k),
                                       alone[k]) != alone.begin() + static_cast<std::ptrdiff_t>(k))
    ++k;
  REQUIRE(k + 1 < alone.size());
  r.eos_token_id = alone[k];
  const llm::RequestId id = engine.submit(r);
  CHECK(engine.num_waiting() == 1);
  std::vector<llm::RequestOutput> outs;
  while (engine.has_unfinished())
    for (const llm::RequestOutput& o : engine.step().outputs) outs.push_back(o);
  REQUIRE_MESSAGE(outs.size() == k + 1,
                  "one output per step that produced a token: " << k + 1 << " tokens, eos included");
  for (size_t i = 0; i <= k; ++i) {
    CAPTURE(i);
    REQUIRE_MESSAGE((outs[i].id == id && outs[i].new_tokens == Ids({alone[i]})),
                    "each step streams its one new token");
    REQUIRE_MESSAGE(outs[i].finished() == (i == k), "only the last output is a finished one");
  }
  CHECK_MESSAGE(outs[k].finish_reason == FinishReason::kEos, "the last output carries the finish reason");
  CHECK_MESSAGE(outs[k].generated == Ids(alone.begin(), alone.begin() + static_cast<std::ptrdiff_t>(k) + 1),
                "and the whole answer");
  CHECK_MESSAGE((engine.num_blocks_used() == 0 && engine.num_running() == 0),
                "a finished request gives back every block");
}

TEST_CASE("step 4: bad requests are refused at submission and the engine keeps serving the others") {
  const ModelConfig cfg = lesson07_test::lesson_config();  // V 1000, 256 positions
  const llm::CausalLM model(cfg, 42);
  Engine engine(model, {.num_blocks = 8, .block_size = 16, .max_running = 4, .max_tokens_per_step = 64});
  const Request good = lesson07_test::sampled(lesson07_test::prompt_ids(5, cfg.vocab_size, 41), 10, 9);
  const llm::RequestId a = engine.submit(good);
  const auto refused = [&](Request r, std::initializer_list<std::string> parts) {
    const std::string msg = error_message<InvalidArgument>([&] { engine.submit(r); });
    for (const std::string& p : parts)
      CHECK_MESSAGE(contains(msg, p), "the message must name '" << p << "': " << msg);
  };
  refused(lesson07_test::greedy({}, 5), {"empty"});
  refused(lesson07_test::greedy({4, 1000}, 5), {"1000", "[0, 1000)"});
  refused(lesson07_test::greedy({4, 5}, 0), {"max_new_tokens = 0", ">= 1"});
  refused(lesson07_test::greedy({4, 5}, 255), {"257", "256"});
  refused(lesson07_test::greedy(lesson07_test::prompt_ids(100, cfg.vocab_size, 1), 50), {"10 blocks", "8"});
  Request hot = good;
  hot.sampling.temperature = std::numeric_limits<float>::quiet_NaN();
  refused(hot, {"temperature"});
  Request top = good;
  top.sampling.top_p = 0.0f;
  refused(top, {"top_p = 0", "(0, 1]"});
  Request eos = good;
  eos.eos_token_id = -1;
  refused(eos, {"eos_token_id = -1"});
  CHECK_MESSAGE((engine.num_waiting() == 1 && engine.num_blocks_used() == 0),
                "refused requests change nothing");
  const llm::RequestId b =
      engine.submit(lesson07_test::greedy(lesson07_test::prompt_ids(3, cfg.vocab_size, 42), 4));
  CHECK_MESSAGE(b == a + 1, "refused requests take no id");
  const auto seen = lesson07_test::run_to_end(engine);
  CHECK_MESSAGE(seen.at(a).generated == lesson07_baselines::generate_alone(model, good),
                "the engine keeps serving the good requests, unchanged");
  CHECK(seen.at(b).generated.size() == 4u);
}

// ------------------------------------------------------------------------------------------------
// Step 5: preemption
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 5: preempt_newest frees the newest request's blocks and puts it at the front of the queue") {
  BlockPool pool(ModelConfig::tiny(), 16, 4);
  Scheduler sched(pool, {.max_running = 4, .max_tokens_per_step = 64});
  lesson07_test::Sequences s;
  Sequence& a = s.make(pool, 5, 8);
  Sequence& b = s.make(pool, 9, 8);
  Sequence& c = s.make(pool, 2, 8);
  sched.add(a), sched.add(b);
  lesson07_test::fake_forward(sched, sched.schedule());
  sched.add(c);  // c waits behind nobody, b is the newest running
  const Index used = pool.num_used();
  Sequence* victim = sched.preempt_newest();
  REQUIRE(victim != nullptr);
  CHECK_MESSAGE(victim == &b, "the NEWEST running request (the last admitted) is the one preempted");
  CHECK_MESSAGE(pool.num_used() == used - 3, "its 3 blocks go back to the pool");
  CHECK_MESSAGE((b.status() == RequestStatus::kWaiting && b.table().length() == 0),
                "it waits again, holding nothing");
  CHECK_MESSAGE(b.num_pending() == 10,
                "its prompt and its generated token are pending again: they will be recomputed");
  CHECK_MESSAGE(b.num_generated() == 1, "what it generated is kept");
  CHECK_MESSAGE(sched.waiting().front() == &b, "it goes to the FRONT of the queue: it arrived before c");
  CHECK(sched.num_running() == 1);
}

TEST_CASE("step 5: a pool too small for every request preempts and every answer stays the same") {
  const ModelConfig cfg = lesson07_test::lesson_config();
  const llm::CausalLM model(cfg, 42);
  // 6 blocks of 4 = 24 positions for requests of 5 + 14 = 19 positions each: only one fits at its end.
  Engine engine(model, {.num_blocks = 6, .block_size = 4, .max_running = 3, .max_tokens_per_step = 32});
  std::vector<Request> requests;
  for (int i = 0; i < 3; ++i)
    requests.push_back(
        lesson07_test::sampled(lesson07_test::prompt_ids(5, cfg.vocab_size, 50 + i), 14, 60 + i));
  const int preemptions = lesson07_test::check_against_alone(model, engine, requests);
  CHECK_MESSAGE(preemptions > 0,
                "the pool cannot hold three requests to their end: some must have been preempted");
}

// ------------------------------------------------------------------------------------------------
// Step 6: abort
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 6: aborting a running request returns its blocks at once") {
  const ModelConfig cfg = lesson07_test::lesson_config();
  const llm::CausalLM model(cfg, 42);
  Engine engine(model, {.num_blocks = 32, .block_size = 4, .max_running = 4, .max_tokens_per_step = 64});
  const Request keep = lesson07_test::sampled(lesson07_test::prompt_ids(6, cfg.vocab_size, 71), 10, 2);
  const llm::RequestId a = engine.submit(keep);
  const llm::RequestId b =
      engine.submit(lesson07_test::greedy(lesson07_test::prompt_ids(9, cfg.vocab_size, 72), 20));
  engine.step();
  engine.step();
  const Index used = engine.num_blocks_used();
  CHECK_MESSAGE(engine.abort(b), "abort of a running request returns true");
  CHECK_MESSAGE(engine.num_blocks_used() == used - 3,
                "its 3 blocks (10 positions) are back before abort() returns");
  CHECK(engine.num_running() == 1);
  const llm::StepResult r = engine.step();
  REQUIRE_MESSAGE(!r.outputs.empty(), "the next step reports the abort");
  CHECK_MESSAGE((r.outputs[0].id == b && r.outputs[0].finish_reason == FinishReason::kAborted),
                "the aborted request is reported first, finished with 'aborted'");
  CHECK_MESSAGE(r.outputs[0].generated.size() == 2, "with the 2 tokens it had generated");
  const auto seen = lesson07_test::run_to_end(engine);
  CHECK_MESSAGE(seen.at(a).generated == lesson07_baselines::generate_alone(model, keep),
                "the other request is unaffected");
  CHECK(engine.num_blocks_used() == 0);
}

TEST_CASE("step 6: aborting a waiting request takes it out of the queue and unknown ids change nothing") {
  const ModelConfig cfg = lesson07_test::lesson_config();
  const llm::CausalLM model(cfg, 42);
  Engine engine(model, {.num_blocks = 32, .block_size = 4, .max_running = 1, .max_tokens_per_step = 64});
  const llm::RequestId a = engine.submit(lesson07_test::greedy({5, 6, 7}, 3));
  const llm::RequestId b = engine.submit(lesson07_test::greedy({8, 9}, 3));
  const llm::RequestId c = engine.submit(lesson07_test::greedy({10}, 3));
  engine.step();  // a runs, b and c wait (max_running 1)
  CHECK_MESSAGE(engine.abort(b), "abort of a waiting request returns true");
  CHECK_MESSAGE(engine.num_waiting() == 1, "it leaves the queue");
  CHECK_MESSAGE(!engine.abort(b), "a second abort of the same request returns false");
  CHECK_MESSAGE(!engine.abort(99), "an unknown id returns false");
  const auto seen = lesson07_test::run_to_end(engine);
  CHECK(seen.at(b).reason == FinishReason::kAborted);
  CHECK_MESSAGE((seen.at(a).generated.size() == 3 && seen.at(c).generated.size() == 3),
                "the others run to their end");
  CHECK_MESSAGE(!engine.abort(a), "a finished request cannot be aborted");
}
