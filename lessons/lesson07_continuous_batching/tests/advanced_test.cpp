// advanced_test.cpp — lesson 07's advanced suite: the properties that make an engine trustworthy.
// Per-request generators under any interleaving; the scheduler's limits (budget, max_running, the pool)
// and first-come-first-served order over seeded random workloads; the batched forward pass equal to
// lesson 04 for random mixes of prefill chunks and decodes; 50+ seeded random requests (greedy and
// sampled, eos and stop ids, staggered arrivals) equal to generating each alone with lesson 04 — with a
// roomy pool, with a token budget that forces chunked prefill, with a pool so small it forces
// preemption; aborts at random moments; the real stories260K model.
//
// Legend: N tokens of a sequence, T tokens a sequence feeds in one step, BS block_size, NB num_blocks,
// V vocab_size.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "block_pool.h"
#include "causal_lm.h"
#include "engine.h"
#include "lesson04_baselines.h"
#include "llm/checkpoint.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/rng.h"
#include "model_runner.h"
#include "request.h"
#include "sampler.h"
#include "scheduler.h"
#include "test_engine.h"
#include "test_support.h"
#include "tokenizer.h"

using lesson07_test::Ids;
using llm::BlockPool;
using llm::Engine;
using llm::FinishReason;
using llm::Index;
using llm::ModelConfig;
using llm::Request;
using llm::RequestStatus;
using llm::Scheduler;
using llm::Sequence;
using llm::Tensor;

namespace {

// ceil(n / bs): the blocks n positions fill.
Index blocks_for(Index n, Index bs) { return (n + bs - 1) / bs; }

// Blocks the running sequences' tables hold, summed.
Index blocks_held(const Scheduler& sched) {
  Index held = 0;
  for (const Sequence* s : sched.running()) held += s->table().num_blocks();
  return held;
}

}  // namespace

// ================================================================================================
// Step 1: the request
// ================================================================================================

TEST_CASE("step 1: eight requests drawing in a random interleaving each draw what they draw alone") {
  BlockPool pool(ModelConfig::tiny(), 4, 4);
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<Ids> alone(8), mixed(8);
  for (int i = 0; i < 8; ++i) {
    Request r =
        lesson07_test::sampled({5}, 100, /*seed=*/1000 + static_cast<std::uint64_t>(i % 4));  // seeds repeat
    r.sampling = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .repetition_penalty = 1.0f};
    seqs.push_back(std::make_unique<Sequence>(i, r, pool));
    llm::Rng own(r.seed);
    for (int d = 0; d < 40; ++d) {
      std::vector<float> row(64, 0.0f);
      alone[static_cast<size_t>(i)].push_back(llm::sample_next(row, Ids{}, r.sampling, own));
    }
  }
  llm::Rng order(3);
  for (int d = 0; d < 8 * 40;) {
    const size_t i = order.next_u64() % 8;
    if (mixed[i].size() == 40) continue;
    std::vector<float> row(64, 0.0f);
    mixed[i].push_back(seqs[i]->sample(row));
    ++d;
  }
  size_t differs = 0;
  while (differs < 8 && mixed[differs] == alone[differs]) ++differs;
  CHECK_MESSAGE(differs == 8, "request " << differs
                                         << " drew other tokens than alone: a request's draws come from its "
                                            "own Rng(seed), whatever order the batch samples in");
}

// ================================================================================================
// Step 2: the scheduler
// ================================================================================================

TEST_CASE(
    "step 2: a seeded random workload never exceeds the budget or max_running and admits first come first "
    "served") {
  for (Index budget : {4, 9, 64}) {
    CAPTURE(budget);
    const Index BS = 4, max_running = 4;
    BlockPool pool(ModelConfig::tiny(), max_running * blocks_for(60, BS),
                   BS);  // room for everyone: no preemption
    Scheduler sched(pool, {.max_running = max_running, .max_tokens_per_step = budget});
    lesson07_test::Sequences s;
    llm::Rng rng(static_cast<std::uint64_t>(budget));
    std::vector<const Sequence*> admitted;  // in the order they first ran
    int submitted = 0, finished = 0;
    for (int step = 0; step < 2000 && finished < 30; ++step) {
      CAPTURE(step);
      if (submitted < 30 && rng.next_u64() % 3 == 0) {  // arrivals at random steps
        sched.add(s.make(pool, 1 + static_cast<Index>(rng.next_u64() % 30),
                         1 + static_cast<int>(rng.next_u64() % 25)));
        ++submitted;
      }
      std::set<const Sequence*> decoding;
      for (const Sequence* q : sched.running())
        if (q->num_pending() == 1) decoding.insert(q);
      const llm::Schedule plan = sched.schedule();
      REQUIRE_MESSAGE(plan.num_tokens() <= budget, "a step's chunks must fit the token budget");
      REQUIRE_MESSAGE(sched.num_running() <= max_running, "the running set must never exceed max_running");
      REQUIRE_MESSAGE(plan.preempted.empty(), "a pool with room for everyone never preempts");
      for (const llm::ScheduledChunk& c : plan.chunks) {
        REQUIRE_MESSAGE(c.num_tokens >= 1, "a scheduled chunk feeds at least one token");
        REQUIRE_MESSAGE(c.seq->table().length() == c.seq->num_computed() + c.num_tokens,
                        "schedule() appends exactly the chunk's slots to the table");
        decoding.erase(c.seq);
        if (std::find(admitted.begin(), admitted.end(), c.seq) == admitted.end()) admitted.push_back(c.seq);
      }
      REQUIRE_MESSAGE(decoding.empty(), "every running request that decodes gets its token in every step");
      REQUIRE_MESSAGE(pool.num_used() == blocks_held(sched),
                      "the pool's blocks in use are exactly the running tables' blocks");
      finished += lesson07_test::fake_forward(sched, plan);
    }
    REQUIRE_MESSAGE(finished == 30, "every request finishes");
    for (size_t i = 0; i < admitted.size(); ++i)
      CHECK_MESSAGE(admitted[i] == s.all[i].get(),
                    "requests are admitted in the order they were submitted (FCFS)");
    CHECK_MESSAGE(pool.num_free() == pool.num_blocks(), "every block is back once everything has finished");
  }
}

// ================================================================================================
// Step 3: the batched forward pass
// ================================================================================================

TEST_CASE(
    "step 3: random batches of prefill chunks and decodes equal lesson 04 with block sizes 1 3 and 16") {
  const ModelConfig cfg = lesson07_test::small_config();
  const llm::CausalLM model(cfg, 9);
  for (Index bs : {1, 3, 16}) {
    CAPTURE(bs);
    BlockPool pool(cfg, blocks_for(60, bs) * 6, bs);
    llm::Rng rng(static_cast<std::uint64_t>(bs));
    std::vector<Ids> streams;
    std::vector<std::unique_ptr<llm::BlockTable>> tables;
    std::vector<Tensor> full;  // (1, N, V) lesson 04's logits of each whole stream
    for (int i = 0; i < 6; ++i) {
      streams.push_back(lesson07_test::prompt_ids(20 + static_cast<Index>(rng.next_u64() % 30),
                                                  cfg.vocab_size, rng.next_u64()));
      tables.push_back(std::make_unique<llm::BlockTable>(pool));
      full.push_back(model.forward(llm::make_ids({streams.back()})).logits);
    }
    for (int round = 0; round < 12; ++round) {
      CAPTURE(round);
      std::vector<llm::BatchEntry> batch;
      std::vector<size_t> owner;
      for (size_t i = 0; i < 6; ++i) {
        const Index done = tables[i]->length(), left = static_cast<Index>(streams[i].size()) - done;
        if (left == 0 || rng.next_u64() % 4 == 0) continue;  // not every sequence runs every step
        const Index T =
            std::min<Index>(left, rng.next_u64() % 2 ? 1 : 1 + static_cast<Index>(rng.next_u64() % 7));
        tables[i]->append(T);
        batch.push_back({tables[i].get(), done,
                         std::span(streams[i]).subspan(static_cast<size_t>(done), static_cast<size_t>(T)),
                         rng.next_u64() % 3 != 0});
        owner.push_back(i);
      }
      if (batch.empty()) continue;
      const Tensor logits = llm::batched_forward(model, batch);
      Index row = 0;
      for (size_t e = 0; e < batch.size(); ++e) {
        if (!batch[e].wants_logits) continue;
        const Index pos = batch[e].first + static_cast<Index>(batch[e].tokens.size()) - 1;
        float worst = 0.0f;
        for (Index j = 0; j < cfg.vocab_size; ++j)
          worst = std::max(worst, std::fabs(logits(row, j) - full[owner[e]](0, pos, j)));
        REQUIRE_MESSAGE(worst <= 1e-4f,
                        "entry " << e << " (sequence " << owner[e] << ", position " << pos
                                 << "): the batched logits must equal lesson 04's at that position — "
                                    "rows in batch order, each sequence attending to its own table only");
        ++row;
      }
      REQUIRE_MESSAGE(row == logits.size(0), "one logits row per entry that wants one, no more");
    }
  }
}

// ================================================================================================
// Step 4: the engine against lesson 04 alone
// ================================================================================================

TEST_CASE("step 4: 50 seeded random requests through the engine equal generating each alone with lesson 04") {
  const ModelConfig cfg = lesson07_test::small_config();
  const llm::CausalLM model(cfg, 7);
  const std::vector<Request> requests = lesson07_test::random_requests(cfg, {.count = 50}, 2024);
  std::vector<lesson07_test::Expected> expected;
  int eos = 0, stop = 0, sampled = 0;
  for (const Request& r : requests) {
    expected.push_back(lesson07_test::expected_alone(model, r));
    eos += expected.back().reason == FinishReason::kEos;
    stop += expected.back().reason == FinishReason::kStop;
    sampled += r.sampling.temperature > 0;
  }
  REQUIRE_MESSAGE((eos > 0 && stop > 0 && sampled > 0),
                  "the workload mixes eos, stop ids and sampling (test set-up)");
  // Room for 8 requests of up to 44 positions at once: nothing is preempted.
  Engine engine(
      model,
      {.num_blocks = 8 * blocks_for(44, 4), .block_size = 4, .max_running = 8, .max_tokens_per_step = 128});
  CHECK(lesson07_test::check_against_alone(model, engine, requests, expected) == 0);
}

TEST_CASE("step 4: requests arriving at random steps equal their solo generation") {
  const ModelConfig cfg = lesson07_test::small_config();
  const llm::CausalLM model(cfg, 8);
  const std::vector<Request> requests = lesson07_test::random_requests(cfg, {.count = 30}, 77);
  Engine engine(
      model,
      {.num_blocks = 6 * blocks_for(44, 8), .block_size = 8, .max_running = 6, .max_tokens_per_step = 48});
  std::map<llm::RequestId, size_t> which;
  size_t next = 0;
  llm::Rng rng(5);
  const auto seen = lesson07_test::run_to_end(engine, 10000, [&](int) {
    while (next < requests.size() && (!engine.has_unfinished() || rng.next_u64() % 3 == 0)) {
      which[engine.submit(requests[next])] = next;
      ++next;
      if (rng.next_u64() % 2) break;
    }
  });
  REQUIRE(next == requests.size());
  for (const auto& [id, i] : which) {
    CAPTURE(i);
    REQUIRE_MESSAGE(seen.at(id).generated == lesson07_baselines::generate_alone(model, requests[i]),
                    "a request joining a batch already running generates what it generates alone");
  }
}

TEST_CASE("step 4: a token budget that forces chunked prefill changes no token") {
  const ModelConfig cfg = lesson07_test::small_config();
  const llm::CausalLM model(cfg, 7);
  const std::vector<Request> requests = lesson07_test::random_requests(
      cfg, {.count = 50, .min_prompt = 5, .max_prompt = 30, .max_new = 20}, 99);
  // The smallest budget allowed, 4 tokens per step for 4 running requests: every prompt longer than what
  // is left after the decodes is fed over several steps.
  Engine engine(
      model,
      {.num_blocks = 4 * blocks_for(50, 4), .block_size = 4, .max_running = 4, .max_tokens_per_step = 4});
  CHECK(lesson07_test::check_against_alone(model, engine, requests) == 0);
}

// ================================================================================================
// Step 5: preemption
// ================================================================================================

TEST_CASE("step 5: the victim is always the newest running request and is readmitted before anyone else") {
  const Index BS = 4;
  BlockPool pool(ModelConfig::tiny(), 12, BS);  // 48 positions for up to 4 requests of up to 40
  Scheduler sched(pool, {.max_running = 4, .max_tokens_per_step = 16});
  lesson07_test::Sequences s;
  llm::Rng rng(11);
  for (int i = 0; i < 20; ++i)
    sched.add(s.make(pool, 1 + static_cast<Index>(rng.next_u64() % 12),
                     10 + static_cast<int>(rng.next_u64() % 20)));
  int finished = 0, preemptions = 0;
  for (int step = 0; step < 3000 && finished < 20; ++step) {
    CAPTURE(step);
    const std::vector<Sequence*> before = sched.running();
    const llm::Schedule plan = sched.schedule();
    for (size_t k = 0; k < plan.preempted.size(); ++k) {
      ++preemptions;
      REQUIRE_MESSAGE(plan.preempted[k] == before[before.size() - 1 - k],
                      "victims are taken from the newest running request backwards");
      REQUIRE_MESSAGE(plan.preempted[k]->table().num_blocks() == 0, "a preempted request holds no block");
    }
    if (!plan.preempted.empty())
      REQUIRE_MESSAGE(
          sched.waiting().front() == plan.preempted.back(),
          "the oldest victim is at the front of the queue: preempted requests are readmitted first");
    REQUIRE_MESSAGE(pool.num_used() == blocks_held(sched), "blocks in use = the running tables' blocks");
    REQUIRE(plan.num_tokens() <= 16);
    finished += lesson07_test::fake_forward(sched, plan);
  }
  CHECK_MESSAGE(finished == 20,
                "every request finishes: the oldest running one can always take the whole pool");
  CHECK_MESSAGE(preemptions > 0, "a pool this small must preempt (test set-up)");
  CHECK(pool.num_free() == pool.num_blocks());
}

TEST_CASE(
    "step 5: 50 seeded random requests on a pool that forces preemption generate what they generate alone") {
  const ModelConfig cfg = lesson07_test::small_config();
  const llm::CausalLM model(cfg, 7);
  const std::vector<Request> requests = lesson07_test::random_requests(cfg, {.count = 50}, 31);
  // 12 blocks of 4 = 48 positions for up to 8 running requests of up to 44: preemption all the time.
  Engine engine(model, {.num_blocks = 12, .block_size = 4, .max_running = 8, .max_tokens_per_step = 24});
  const int preemptions = lesson07_test::check_against_alone(model, engine, requests);
  CHECK_MESSAGE(preemptions > 0, "a pool this small must have preempted (test set-up)");
}

// ================================================================================================
// Step 6: abort
// ================================================================================================

TEST_CASE("step 6: aborts at random moments free their blocks at once and leave the others unchanged") {
  const ModelConfig cfg = lesson07_test::small_config();
  const llm::CausalLM model(cfg, 7);
  const std::vector<Request> requests = lesson07_test::random_requests(cfg, {.count = 40}, 5);
  // A small pool and budget: aborts hit requests waiting, preempted, in the middle of a prefill, decoding.
  Engine engine(model, {.num_blocks = 16, .block_size = 4, .max_running = 6, .max_tokens_per_step = 12});
  std::vector<llm::RequestId> ids;
  for (const Request& r : requests) ids.push_back(engine.submit(r));
  std::set<llm::RequestId> aborted;
  std::map<RequestStatus, int> states;
  llm::Rng rng(17);
  const auto seen = lesson07_test::run_to_end(engine, 10000, [&](int) {
    if (rng.next_u64() % 4 != 0) return;
    const llm::RequestId id = ids[rng.next_u64() % ids.size()];
    const Sequence* seq = engine.find(id);
    if (seq == nullptr) {
      REQUIRE_MESSAGE(!engine.abort(id), "abort of a finished request returns false");
      return;
    }
    ++states[seq->status()];
    const Index held = seq->table().num_blocks(), used = engine.num_blocks_used();
    REQUIRE_MESSAGE(engine.abort(id), "abort of a live request returns true");
    REQUIRE_MESSAGE(engine.num_blocks_used() == used - held,
                    "an aborted request's blocks are back before abort() returns");
    REQUIRE_MESSAGE(engine.find(id) == nullptr, "an aborted request is gone from the engine");
    aborted.insert(id);
  });
  REQUIRE_MESSAGE((states[RequestStatus::kWaiting] > 0 && states[RequestStatus::kRunning] > 0),
                  "aborts hit waiting and running requests (test set-up)");
  for (size_t i = 0; i < requests.size(); ++i) {
    CAPTURE(i);
    const lesson07_test::Seen& s = seen.at(ids[i]);
    if (aborted.count(ids[i])) {
      REQUIRE_MESSAGE(s.reason == FinishReason::kAborted, "an aborted request is reported with 'aborted'");
      const Ids alone = lesson07_baselines::generate_alone(model, requests[i]);
      REQUIRE_MESSAGE((s.generated.size() <= alone.size() &&
                       std::equal(s.generated.begin(), s.generated.end(), alone.begin())),
                      "what an aborted request generated before the abort is a prefix of its answer alone");
    } else {
      REQUIRE_MESSAGE(s.generated == lesson07_baselines::generate_alone(model, requests[i]),
                      "requests that were not aborted generate what they generate alone");
    }
  }
  CHECK(engine.num_blocks_free() == engine.pool().num_blocks());
}

// ================================================================================================
// stories260K: the real model in a continuous batch against lesson 04 alone
// ================================================================================================

TEST_CASE(
    "stories260K: eight prompts in a continuous batch with preemption and chunking equal lesson 04 alone" *
    doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const llm::Tokenizer tok = llm::Tokenizer::load(files->tokenizer, ckpt.config.vocab_size);
  const llm::CausalLM model = llm::CausalLM::from_checkpoint(ckpt);
  const char* texts[] = {"Once upon a time",  "The little dog",      "Lily and Ben went to the park.",
                         "One day, a bird",   "Tom had a red ball",  "The sun was hot and",
                         "Mia liked to draw", "There was a big tree"};
  std::vector<Request> requests;
  for (int i = 0; i < 8; ++i) {
    Request r;
    r.prompt = tok.encode(texts[i], true);
    r.max_new_tokens = 20 + 4 * (i % 4);
    r.eos_token_id = ckpt.config.eos_token_id;
    if (i % 2) {
      r.sampling = {.temperature = 0.8f, .top_k = 40, .top_p = 0.9f, .repetition_penalty = 1.0f};
      r.seed = 100 + static_cast<std::uint64_t>(i);
    } else {
      r.sampling.temperature = 0.0f;
    }
    requests.push_back(std::move(r));
  }
  // 5 blocks of 16 positions for up to 4 requests of up to 44: preempts; a budget of 8 chunks the prompts.
  Engine engine(model, {.num_blocks = 5, .block_size = 16, .max_running = 4, .max_tokens_per_step = 8});
  const int preemptions = lesson07_test::check_against_alone(model, engine, requests);
  CHECK_MESSAGE(preemptions > 0, "this pool must preempt (test set-up)");
}
