// probes_lesson07.cpp — `./llm compare lesson07`: a request's draws and finish reasons, the scheduler's
// chunks (admission order, the token budget, decodes first, finish), the batched forward pass's logits,
// the engine's tokens and step outputs, preemption and abort — each on fixed, seeded inputs.
// Not here: timing (./llm bench), the given parts (submission checks, the sequence's bookkeeping).
#include <memory>
#include <string>
#include <vector>

#include "block_pool.h"
#include "block_table.h"
#include "causal_lm.h"
#include "engine.h"
#include "grade/probes.h"
#include "model_runner.h"
#include "request.h"
#include "scheduler.h"

using namespace llm;
using namespace llm::dump;
using Ids = std::vector<std::int32_t>;

namespace {

// N ids in [3, vocab) from a fixed walk.
Ids walk(Index n, int vocab, int salt = 0) {
  Ids ids;
  for (Index i = 0; i < n; ++i)
    ids.push_back(static_cast<std::int32_t>(3 + (i * 37 + salt * 11 + 5) % (vocab - 3)));
  return ids;
}

Request greedy(Ids prompt, int max_new_tokens) {
  Request r;
  r.prompt = std::move(prompt);
  r.max_new_tokens = max_new_tokens;
  r.sampling.temperature = 0.0f;
  return r;
}

Request sampled(Ids prompt, int max_new_tokens, std::uint64_t seed) {
  Request r = greedy(std::move(prompt), max_new_tokens);
  r.sampling = {.temperature = 0.9f, .top_k = 20, .top_p = 0.95f, .repetition_penalty = 1.1f};
  r.seed = seed;
  return r;
}

// Scheduler probes without a model: sequences made by hand.
struct Hand {
  std::vector<std::unique_ptr<Sequence>> seqs;
  Sequence& make(BlockPool& pool, Index prompt, int max_new) {
    seqs.push_back(std::make_unique<Sequence>(static_cast<RequestId>(seqs.size()),
                                              greedy(walk(prompt, 64), max_new), pool));
    return *seqs.back();
  }
};

// What the engine does after a forward pass, without one: K/V stored, token 5 appended to every
// sequence that reached its last token, finished ones retired.
void fake_forward(Scheduler& sched, const Schedule& plan) {
  for (const ScheduledChunk& c : plan.chunks) {
    const bool samples = c.samples();
    c.seq->mark_computed(c.num_tokens);
    if (samples && c.seq->append_token(5) != FinishReason::kNone) sched.finish(*c.seq);
  }
}

// (id, T) of every chunk of a schedule.
std::vector<Index> chunks(const Schedule& plan) {
  std::vector<Index> out;
  for (const ScheduledChunk& c : plan.chunks) out.insert(out.end(), {c.seq->id(), c.num_tokens});
  return out;
}

// Every request's generated tokens, in id order, after running the engine to the end; then the number
// of preemptions of each.
std::vector<Index> run(Engine& engine, const std::vector<Request>& requests) {
  for (const Request& r : requests) engine.submit(r);
  std::vector<std::vector<std::int32_t>> tokens(requests.size());
  std::vector<Index> preempted(requests.size());
  for (int step = 0; step < 2000 && engine.has_unfinished(); ++step)
    for (const RequestOutput& o : engine.step().outputs)
      if (o.finished()) {
        tokens[static_cast<size_t>(o.id)] = o.generated;
        preempted[static_cast<size_t>(o.id)] = o.num_preemptions;
      }
  std::vector<Index> out;
  for (const auto& t : tokens) {
    out.insert(out.end(), t.begin(), t.end());
    out.push_back(-1);  // separator
  }
  out.insert(out.end(), preempted.begin(), preempted.end());
  return out;
}

}  // namespace

int main() {
  emit("{\"setup\":\"ModelConfig::tiny() shapes, seeded models, fixed token walks\"}");

  // Step 1 ------------------------------------------------------------------------------------------
  probe(1, "sample: 12 draws of a seed-7 request from flat logits", [] {
    BlockPool pool(ModelConfig::tiny(), 4, 4);
    Request r = sampled({5, 6}, 20, 7);
    r.sampling = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .repetition_penalty = 1.0f};
    Sequence seq(0, r, pool);
    std::vector<int> ids;
    for (int i = 0; i < 12; ++i) {
      std::vector<float> row(64, 0.0f);
      ids.push_back(seq.sample(row));
    }
    return integers(ids);
  });
  probe(1, "sample: greedy with repetition penalty 4 over prompt and generated tokens", [] {
    BlockPool pool(ModelConfig::tiny(), 4, 4);
    Request r = greedy({9, 10}, 4);
    r.sampling.repetition_penalty = 4.0f;
    Sequence seq(0, r, pool);
    std::vector<float> row(64, 0.0f);
    row[9] = 3.0f, row[30] = 2.0f, row[31] = 1.5f;
    const int first = seq.sample(row);
    seq.append_token(first);
    row.assign(64, 0.0f);
    row[30] = 3.0f, row[31] = 1.5f;
    return integers(std::vector<int>{first, seq.sample(row)});
  });
  probe(1, "append_token: finish reasons of three token streams (eos 2, stops 7 8, max 3)", [] {
    BlockPool pool(ModelConfig::tiny(), 4, 4);
    Request r = greedy({5}, 3);
    r.eos_token_id = 2;
    r.stop_token_ids = {7, 8};
    std::vector<int> reasons;
    for (const Ids& stream : {Ids{11, 8}, Ids{11, 12, 2}, Ids{11, 12, 13}}) {
      Sequence seq(0, r, pool);
      for (std::int32_t t : stream) reasons.push_back(static_cast<int>(seq.append_token(t)));
    }
    return integers(reasons);
  });

  // Step 2 ------------------------------------------------------------------------------------------
  probe(2, "schedule: prompts 10 20 2 in a pool of 6 blocks of 4 (admitted chunks)", [] {
    BlockPool pool(ModelConfig::tiny(), 6, 4);
    Scheduler sched(pool, {.max_running = 4, .max_tokens_per_step = 64});
    Hand h;
    for (Index p : {10, 20, 2}) sched.add(h.make(pool, p, 3));
    std::vector<Index> out = chunks(sched.schedule());
    out.insert(out.end(), {sched.num_running(), sched.num_waiting(), pool.num_used()});
    return integers(out);
  });
  probe(2, "schedule: a 20-token prompt with a budget of 8, four steps", [] {
    BlockPool pool(ModelConfig::tiny(), 16, 4);
    Scheduler sched(pool, {.max_running = 2, .max_tokens_per_step = 8});
    Hand h;
    sched.add(h.make(pool, 20, 2));
    std::vector<Index> out;
    for (int step = 0; step < 4; ++step) {
      const Schedule plan = sched.schedule();
      for (Index v : chunks(plan)) out.push_back(v);
      fake_forward(sched, plan);
    }
    return integers(out);
  });
  probe(2, "schedule: a decoding request and a 30-token newcomer, budget 8, two steps", [] {
    BlockPool pool(ModelConfig::tiny(), 16, 4);
    Scheduler sched(pool, {.max_running = 3, .max_tokens_per_step = 8});
    Hand h;
    sched.add(h.make(pool, 3, 10));
    fake_forward(sched, sched.schedule());
    sched.add(h.make(pool, 30, 2));
    std::vector<Index> out;
    for (int step = 0; step < 2; ++step) {
      const Schedule plan = sched.schedule();
      for (Index v : chunks(plan)) out.push_back(v);
      fake_forward(sched, plan);
    }
    return integers(out);
  });
  probe(2, "finish: blocks used, running and the next admitted after a 1-token request", [] {
    BlockPool pool(ModelConfig::tiny(), 8, 4);
    Scheduler sched(pool, {.max_running = 1, .max_tokens_per_step = 16});
    Hand h;
    sched.add(h.make(pool, 6, 1));
    sched.add(h.make(pool, 5, 1));
    fake_forward(sched, sched.schedule());
    std::vector<Index> out{pool.num_used(), sched.num_running()};
    for (Index v : chunks(sched.schedule())) out.push_back(v);
    return integers(out);
  });

  // Step 3 ------------------------------------------------------------------------------------------
  const ModelConfig tiny = ModelConfig::tiny();
  const CausalLM model(tiny, 42);
  probe(3, "batched_forward: logits of a prefill of 7, a decode at position 9 and a prefill of 3", [&] {
    BlockPool pool(tiny, 16, 4);
    BlockTable a(pool), b(pool), c(pool);
    const Ids ta = walk(7, 64, 1), tb = walk(10, 64, 2), tc = walk(3, 64, 3);
    b.append(9);
    const BatchEntry warm{&b, 0, std::span(tb).first(9), false};
    batched_forward(model, std::span(&warm, 1));
    a.append(7), b.append(1), c.append(3);
    const BatchEntry batch[] = {
        {&a, 0, ta, true}, {&b, 9, std::span(tb).subspan(9), true}, {&c, 0, tc, true}};
    return floats(batched_forward(model, batch));
  });
  probe(3, "batched_forward: only the second of two entries wants logits", [&] {
    BlockPool pool(tiny, 16, 4);
    BlockTable a(pool), b(pool);
    const Ids ta = walk(5, 64, 4), tb = walk(4, 64, 5);
    a.append(5), b.append(4);
    const BatchEntry batch[] = {{&a, 0, ta, false}, {&b, 0, tb, true}};
    return floats(batched_forward(model, batch));
  });

  // Step 4 ------------------------------------------------------------------------------------------
  ModelConfig varied = ModelConfig::tiny();
  varied.tie_word_embeddings = false;
  varied.initializer_range = 0.2f;
  const CausalLM varied_model(varied, 42);
  const std::vector<Request> four = {greedy(walk(5, 64, 1), 10), sampled(walk(9, 64, 2), 12, 3),
                                     sampled(walk(2, 64, 3), 8, 4), greedy(walk(12, 64, 4), 6)};
  probe(4, "engine: the tokens of 4 requests (greedy and sampled), max_running 2", [&] {
    Engine engine(varied_model,
                  {.num_blocks = 32, .block_size = 4, .max_running = 2, .max_tokens_per_step = 32});
    return integers(run(engine, four));
  });
  probe(4, "engine: (id, token, finish reason) of every output of the first 6 steps", [&] {
    Engine engine(varied_model,
                  {.num_blocks = 32, .block_size = 4, .max_running = 4, .max_tokens_per_step = 8});
    for (const Request& r : four) engine.submit(r);
    std::vector<Index> out;
    for (int step = 0; step < 6; ++step) {
      const StepResult r = engine.step();
      out.push_back(r.num_tokens);
      for (const RequestOutput& o : r.outputs)
        out.insert(out.end(),
                   {o.id, o.new_tokens.empty() ? -1 : o.new_tokens[0], static_cast<Index>(o.finish_reason)});
    }
    return integers(out);
  });

  // Step 5 ------------------------------------------------------------------------------------------
  probe(5, "preempt_newest: victim, blocks used, its pending tokens, front of the queue", [] {
    BlockPool pool(ModelConfig::tiny(), 16, 4);
    Scheduler sched(pool, {.max_running = 4, .max_tokens_per_step = 64});
    Hand h;
    sched.add(h.make(pool, 5, 8));
    sched.add(h.make(pool, 9, 8));
    fake_forward(sched, sched.schedule());
    sched.add(h.make(pool, 2, 8));
    Sequence* victim = sched.preempt_newest();
    return integers(std::vector<Index>{victim ? victim->id() : -1, pool.num_used(),
                                       victim ? victim->num_pending() : -1, sched.waiting().front()->id(),
                                       sched.num_running()});
  });
  probe(5, "engine: the tokens of 3 requests in a 6-block pool, then their preemptions", [&] {
    Engine engine(varied_model,
                  {.num_blocks = 6, .block_size = 4, .max_running = 3, .max_tokens_per_step = 16});
    std::vector<Request> three;
    for (int i = 0; i < 3; ++i)
      three.push_back(sampled(walk(5, 64, 10 + i), 14, 60 + static_cast<std::uint64_t>(i)));
    return integers(run(engine, three));
  });

  // Step 6 ------------------------------------------------------------------------------------------
  probe(6, "abort: a running request (blocks before and after, reported reason, tokens it had)", [&] {
    Engine engine(varied_model,
                  {.num_blocks = 32, .block_size = 4, .max_running = 4, .max_tokens_per_step = 32});
    engine.submit(four[1]);
    const RequestId b = engine.submit(greedy(walk(9, 64, 7), 20));
    engine.step();
    engine.step();
    std::vector<Index> out{engine.num_blocks_used(), engine.abort(b), engine.num_blocks_used()};
    const StepResult r = engine.step();
    out.insert(out.end(), {r.outputs[0].id, static_cast<Index>(r.outputs[0].finish_reason),
                           static_cast<Index>(r.outputs[0].generated.size())});
    return integers(out);
  });
  probe(6, "abort: a waiting request, then the same id again and an unknown id", [&] {
    Engine engine(varied_model,
                  {.num_blocks = 32, .block_size = 4, .max_running = 1, .max_tokens_per_step = 32});
    engine.submit(greedy({5, 6, 7}, 3));
    const RequestId b = engine.submit(greedy({8, 9}, 3));
    engine.step();
    return integers(
        std::vector<Index>{engine.abort(b), engine.num_waiting(), engine.abort(b), engine.abort(99)});
  });
  emit("{\"done\":true}");
}
