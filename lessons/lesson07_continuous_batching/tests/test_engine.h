// test_engine.h — helpers shared by lesson 07's two suites: the models, seeded random requests, a
// simulated forward pass for the scheduler-only cases, and a loop that drives the engine to the end
// while checking what must hold after every step. No test cases live here.
//
// Legend: N tokens of a sequence, BS block_size, NB num_blocks, V vocab_size.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "causal_lm.h"  // lesson 04 (reference)
#include "engine.h"
#include "lesson04_baselines.h"
#include "llm/config.h"
#include "llm/rng.h"
#include "request.h"
#include "scheduler.h"

namespace lesson07_test {

using llm::Index;
using Ids = std::vector<std::int32_t>;

// ModelConfig::tiny() (V 64, C 32, 2 layers, H 4, KV 2, 64 positions) with an untied head and a wide
// initialisation: greedy decoding then visits many tokens with clear margins, and it is fast in Debug.
inline llm::ModelConfig small_config() {
  llm::ModelConfig cfg = llm::ModelConfig::tiny();
  cfg.tie_word_embeddings = false;
  cfg.initializer_range = 0.2f;
  return cfg;
}

// The same for lesson's config (V 1000, C 128, 256 positions).
inline llm::ModelConfig lesson_config() {
  llm::ModelConfig cfg = llm::ModelConfig::lesson();
  cfg.tie_word_embeddings = false;
  cfg.initializer_range = 0.2f;
  return cfg;
}

// n ids in [3, vocab) from a fixed walk of `seed` (0 .. 2 left out: the BOS/EOS ids of the configs).
inline Ids prompt_ids(Index n, int vocab, std::uint64_t seed) {
  llm::Rng rng(seed);
  Ids ids;
  for (Index i = 0; i < n; ++i)
    ids.push_back(3 + static_cast<std::int32_t>(rng.next_u64() % static_cast<std::uint64_t>(vocab - 3)));
  return ids;
}

inline llm::Request greedy(Ids prompt, int max_new_tokens) {
  llm::Request r;
  r.prompt = std::move(prompt);
  r.max_new_tokens = max_new_tokens;
  r.sampling.temperature = 0.0f;
  return r;
}

inline llm::Request sampled(Ids prompt, int max_new_tokens, std::uint64_t seed) {
  llm::Request r;
  r.prompt = std::move(prompt);
  r.max_new_tokens = max_new_tokens;
  r.sampling = {.temperature = 0.9f, .top_k = 20, .top_p = 0.95f, .repetition_penalty = 1.1f};
  r.seed = seed;
  return r;
}

// What a workload of random requests looks like.
struct Mix {
  int count = 50;
  Index min_prompt = 1, max_prompt = 20;
  int min_new = 1, max_new = 24;
};

// `mix.count` seeded requests: prompt lengths and max_new_tokens uniform in their ranges; every third
// greedy, the others sampled with varied values and their own seeds; about half with an eos id drawn
// from the model's likely tokens and a quarter with stop ids. Deterministic for a given seed.
inline std::vector<llm::Request> random_requests(const llm::ModelConfig& cfg, const Mix& mix,
                                                 std::uint64_t seed) {
  llm::Rng rng(seed);
  const auto uniform = [&](Index lo, Index hi) {
    return lo + static_cast<Index>(rng.next_u64() % static_cast<std::uint64_t>(hi - lo + 1));
  };
  std::vector<llm::Request> out;
  for (int i = 0; i < mix.count; ++i) {
    llm::Request r;
    r.prompt = prompt_ids(uniform(mix.min_prompt, mix.max_prompt), cfg.vocab_size, rng.next_u64());
    r.max_new_tokens = static_cast<int>(uniform(mix.min_new, mix.max_new));
    if (i % 3 == 0) {
      r.sampling.temperature = 0.0f;
    } else {
      r.sampling = {.temperature = 0.5f + 0.1f * static_cast<float>(uniform(0, 8)),
                    .top_k = static_cast<int>(uniform(0, 30)),
                    .top_p = i % 2 ? 1.0f : 0.9f,
                    .repetition_penalty = i % 4 == 1 ? 1.3f : 1.0f};
    }
    r.seed = rng.next_u64();
    if (uniform(0, 1)) r.eos_token_id = static_cast<std::int32_t>(uniform(3, cfg.vocab_size - 1));
    if (uniform(0, 3) == 0)
      r.stop_token_ids = {static_cast<std::int32_t>(uniform(3, cfg.vocab_size - 1)),
                          static_cast<std::int32_t>(uniform(3, cfg.vocab_size - 1))};
    out.push_back(std::move(r));
  }
  return out;
}

// What lesson 04 generates for each request alone, and the finish reason that implies.
struct Expected {
  Ids tokens;
  llm::FinishReason reason = llm::FinishReason::kLength;
};

inline Expected expected_alone(const llm::CausalLM& model, const llm::Request& r) {
  Expected e{lesson07_baselines::generate_alone(model, r)};
  const std::int32_t last = e.tokens.back();
  if (r.eos_token_id && last == *r.eos_token_id)
    e.reason = llm::FinishReason::kEos;
  else if (std::find(r.stop_token_ids.begin(), r.stop_token_ids.end(), last) != r.stop_token_ids.end())
    e.reason = llm::FinishReason::kStop;
  return e;
}

// A request's history as seen from the engine's outputs.
struct Seen {
  Ids streamed;   // the new_tokens of every step, concatenated
  Ids generated;  // the finishing output's whole answer
  llm::FinishReason reason = llm::FinishReason::kNone;
  int outputs_after_finish = 0;
  int preemptions = 0;
};

// Steps `engine` until nothing is left (at most max_steps), checking after every step what must always
// hold: the budget, max_running, the waiting sequences hold no block, the blocks in use are exactly
// those of the running sequences' tables. before_step(step) may submit or abort. Returns what each
// request was seen to produce.
inline std::map<llm::RequestId, Seen> run_to_end(llm::Engine& engine, int max_steps = 10000,
                                                 const std::function<void(int)>& before_step = {}) {
  std::map<llm::RequestId, Seen> seen;
  const llm::EngineConfig& cfg = engine.config();
  for (int step = 0; step < max_steps; ++step) {
    if (before_step) before_step(step);
    if (!engine.has_unfinished()) break;
    const llm::StepResult r = engine.step();
    REQUIRE_MESSAGE(r.num_tokens <= cfg.max_tokens_per_step,
                    "a step ran " << r.num_tokens << " tokens, more than the budget max_tokens_per_step = "
                                  << cfg.max_tokens_per_step);
    REQUIRE_MESSAGE(engine.num_running() <= cfg.max_running,
                    engine.num_running()
                        << " sequences running, more than max_running = " << cfg.max_running);
    Index held = 0;
    for (const llm::Sequence* s : engine.scheduler().running()) held += s->table().num_blocks();
    for (const llm::Sequence* s : engine.scheduler().waiting())
      REQUIRE_MESSAGE(s->table().num_blocks() == 0, "a waiting (or preempted) request "
                                                        << s->id() << " still holds "
                                                        << s->table().num_blocks()
                                                        << " blocks: it must hold none");
    REQUIRE_MESSAGE(
        engine.num_blocks_used() == held,
        "the pool has " << engine.num_blocks_used() << " blocks in use but the running sequences' tables "
                        << "hold " << held << ": blocks leaked (a finished, aborted or preempted request "
                        << "did not release its table)");
    for (const llm::RequestOutput& o : r.outputs) {
      Seen& s = seen[o.id];
      if (s.reason != llm::FinishReason::kNone) ++s.outputs_after_finish;
      s.streamed.insert(s.streamed.end(), o.new_tokens.begin(), o.new_tokens.end());
      if (o.finished()) {
        s.reason = o.finish_reason;
        s.generated = o.generated;
        s.preemptions = o.num_preemptions;
      }
    }
  }
  REQUIRE_MESSAGE(!engine.has_unfinished(),
                  "the engine did not finish its requests within " << max_steps << " steps");
  return seen;
}

// Submits every request, runs the engine to the end and checks each against lesson 04 alone (`expected`,
// computed here when empty). Returns the total number of preemptions seen.
inline int check_against_alone(const llm::CausalLM& model, llm::Engine& engine,
                               const std::vector<llm::Request>& requests,
                               std::vector<Expected> expected = {}) {
  if (expected.empty())
    for (const llm::Request& r : requests) expected.push_back(expected_alone(model, r));
  std::vector<llm::RequestId> ids;
  for (const llm::Request& r : requests) ids.push_back(engine.submit(r));
  const std::map<llm::RequestId, Seen> seen = run_to_end(engine);
  // One message per property, naming the first request that breaks it and how many do: a mistake in
  // the engine usually breaks most of them, and fifty identical messages would hide the first one.
  struct Failure {
    int count = 0;
    size_t first = 0;
    std::string detail;
  };
  Failure tokens, streamed, reason, repeated;
  const auto note = [](Failure& f, size_t i, const std::string& detail) {
    if (f.count++ == 0) f.first = i, f.detail = detail;
  };
  int preemptions = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto it = seen.find(ids[i]);
    REQUIRE_MESSAGE(it != seen.end(), "request " << ids[i] << " never produced an output");
    const Seen& s = it->second;
    const std::string kind = requests[i].sampling.temperature > 0 ? "sampled" : "greedy";
    const Ids& want = expected[i].tokens;
    if (s.generated != want) {
      const auto diff = std::mismatch(s.generated.begin(), s.generated.end(), want.begin(), want.end()).first;
      note(tokens, i,
           kind + ", " + std::to_string(s.generated.size()) + " tokens, alone " +
               std::to_string(want.size()) + ", first difference at token " +
               std::to_string(diff - s.generated.begin()));
    }
    if (s.streamed != s.generated) note(streamed, i, "");
    if (s.generated == want && s.reason != expected[i].reason)  // different tokens end differently anyway
      note(reason, i,
           "'" + std::string(llm::to_string(s.reason)) + "', alone '" +
               std::string(llm::to_string(expected[i].reason)) + "'");
    if (s.outputs_after_finish != 0) note(repeated, i, "");
    preemptions += s.preemptions;
  }
  CHECK_MESSAGE(tokens.count == 0, tokens.count
                                       << " of " << requests.size()
                                       << " requests differ from lesson 04's generate() alone, the first is "
                                       << "request " << tokens.first << " (" << tokens.detail
                                       << "): the continuous batch must give exactly what a request gets "
                                       << "alone (its own seed and generator, its own history, positions "
                                       << "from its own length)");
  CHECK_MESSAGE(streamed.count == 0, streamed.count
                                         << " requests' streamed tokens (the new_tokens of every step) do "
                                         << "not add up to their finished answer, the first is request "
                                         << streamed.first);
  CHECK_MESSAGE(reason.count == 0, reason.count
                                       << " requests finished with another reason than alone, the first is "
                                       << "request " << reason.first << ": " << reason.detail);
  CHECK_MESSAGE(repeated.count == 0, repeated.count
                                         << " requests were reported again after they finished, the first "
                                         << "is request " << repeated.first);
  CHECK_MESSAGE(engine.num_blocks_free() == engine.pool().num_blocks(),
                "every block is back in the pool once all requests have finished");
  return preemptions;
}

// Scheduler-only cases: a sequence made by hand and a fake forward pass (no model).
struct Sequences {
  std::vector<std::unique_ptr<llm::Sequence>> all;
  llm::Sequence& make(llm::BlockPool& pool, Index prompt_len, int max_new_tokens) {
    llm::Request r =
        greedy(prompt_ids(prompt_len, 64, static_cast<std::uint64_t>(all.size()) + 1), max_new_tokens);
    all.push_back(
        std::make_unique<llm::Sequence>(static_cast<llm::RequestId>(all.size()), std::move(r), pool));
    return *all.back();
  }
};

// What the engine does after a forward pass, without one: each chunk's K/V count as stored; a chunk
// that reaches its sequence's last token "produces" token 5 (finishing by length when it is the last
// one allowed); finished sequences leave the scheduler. Returns how many finished.
inline int fake_forward(llm::Scheduler& scheduler, const llm::Schedule& schedule) {
  int finished = 0;
  for (const llm::ScheduledChunk& c : schedule.chunks) {
    const bool samples = c.samples();
    c.seq->mark_computed(c.num_tokens);
    if (samples && c.seq->append_token(5) != llm::FinishReason::kNone) {
      scheduler.finish(*c.seq);
      ++finished;
    }
  }
  return finished;
}

}  // namespace lesson07_test
