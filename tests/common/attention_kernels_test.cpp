// attention_kernels_test.cpp — the hand-vectorised loops of llm/attention_kernels.h against plain loops
// in double, at every length around their blocks of eight (the tails are where such loops go wrong),
// and exp's special values: -inf is exactly 0 (a masked key), NaN stays NaN.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "inputs.h"
#include "llm/attention_kernels.h"

using llm::Index;

namespace {

// n seeded N(0, std^2) draws (the suites' one source of random inputs), as a vector.
std::vector<float> normal(Index n, std::uint64_t seed, float std) {
  const llm::Tensor t = llm::testing::seeded(llm::Shape{n}, seed, std);
  return {t.flat().begin(), t.flat().end()};
}

}  // namespace

TEST_CASE(
    "softmax_numerators: exp(w - max) within 2 ulp of exp() at every length, the sum of what it wrote") {
  for (Index n = 1; n <= 41; ++n) {
    std::vector<float> w = normal(n, 100 + static_cast<std::uint64_t>(n), 20.0f);
    float max = -std::numeric_limits<float>::infinity();
    for (const float x : w) max = std::max(max, x);
    const std::vector<float> before = w;
    const float sum = llm::softmax_numerators(w);
    double expected_sum = 0.0;
    for (size_t j = 0; j < w.size(); ++j) {
      const float x = before[j] - max;  // the difference in float, as the kernel takes it
      const double e = std::exp(static_cast<double>(x));
      expected_sum += w[j];
      if (x < -87.3f) {  // below float's normal range: 0 by contract
        REQUIRE_MESSAGE(w[j] == 0.0f,
                        "exp(" << before[j] - max << ") below exp(-87.3) must be 0, got " << w[j]);
        continue;
      }
      REQUIRE_MESSAGE(std::abs(w[j] - e) <= 2.5e-7 * e, "exp(" << before[j] - max << ") = " << e << ", got "
                                                               << w[j] << " (n = " << n << ", j = " << j
                                                               << ")");
    }
    REQUIRE_MESSAGE(std::abs(sum - expected_sum) <= 1e-6 * expected_sum,
                    "the returned sum " << sum << " is not the sum of the exponentials " << expected_sum);
  }
}

TEST_CASE(
    "softmax_numerators: -inf gives exactly 0 (a masked key), all -inf gives a sum of 0, NaN stays NaN") {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> w = {-inf, 3.0f, -inf, 3.0f - 88.0f, 2.0f, -inf, -inf, -inf, 1.0f, -inf};
  const float sum = llm::softmax_numerators(w);
  CHECK(w[0] == 0.0f);
  CHECK(w[1] == 1.0f);
  CHECK(w[3] == 0.0f);
  CHECK(w[9] == 0.0f);
  CHECK(sum == doctest::Approx(1.0 + std::exp(-1.0) + std::exp(-2.0)).epsilon(1e-6));
  std::vector<float> masked(11, -inf);
  CHECK_MESSAGE(llm::softmax_numerators(masked) == 0.0f,
                "nothing visible: the sum is 0 (the caller outputs zeros)");
  std::vector<float> with_nan = {0.0f, std::nanf(""), -1.0f};
  CHECK(std::isnan(llm::softmax_numerators(with_nan)));
  std::vector<float> nan_and_masked = {-inf, std::nanf(""), -inf};
  CHECK_MESSAGE(std::isnan(llm::softmax_numerators(nan_and_masked)),
                "NaN among -inf must not read as nothing visible");
}

TEST_CASE("scores_transposed and accumulate_values equal the plain loops at every length and head_dim") {
  for (const Index D : {1, 4, 8, 12, 16})
    for (Index n = 0; n <= 27; ++n) {
      const Index stride = n + 3;  // the keys' rows are longer than n, as a cache's capacity is
      const std::vector<float> q = normal(D, 1, 1.0f), kt = normal(D * stride, 2, 1.0f);
      std::vector<float> s(static_cast<size_t>(n));
      llm::scores_transposed(q.data(), kt.data(), D, stride, n, s.data());
      for (Index j = 0; j < n; ++j) {
        double dot = 0.0;
        for (Index d = 0; d < D; ++d)
          dot += static_cast<double>(q[static_cast<size_t>(d)]) * kt[static_cast<size_t>(d * stride + j)];
        REQUIRE_MESSAGE(std::abs(s[static_cast<size_t>(j)] - dot) <= 1e-5,
                        "score of key " << j << " (n = " << n << ", D = " << D
                                        << "): " << s[static_cast<size_t>(j)] << " vs " << dot);
      }

      const std::vector<float> w = normal(n, 3, 1.0f), v = normal(n * D, 4, 1.0f);
      std::vector<float> o = normal(D, 5, 1.0f);
      const std::vector<float> o0 = o;
      llm::accumulate_values(w.data(), v.data(), D, n, o.data());
      for (Index d = 0; d < D; ++d) {
        double acc = o0[static_cast<size_t>(d)];
        for (Index j = 0; j < n; ++j)
          acc += static_cast<double>(w[static_cast<size_t>(j)]) * v[static_cast<size_t>(j * D + d)];
        REQUIRE_MESSAGE(std::abs(o[static_cast<size_t>(d)] - acc) <= 1e-5,
                        "value sum, dimension " << d << " (n = " << n << ", D = " << D << "): must add to o, "
                                                << o[static_cast<size_t>(d)] << " vs " << acc);
      }
    }
}
