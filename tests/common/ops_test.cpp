// ops_test.cpp — every op of llm/ops.h against values worked out by hand (the arithmetic is in the
// comments next to each expected number), plus the numerically hard cases and the error paths.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include "llm/errors.h"
#include "llm/ops.h"
#include "llm/tensor.h"
#include "test_support.h"

using llm::IdTensor;
using llm::Index;
using llm::InvalidArgument;
using llm::Shape;
using llm::ShapeError;
using llm::Tensor;

namespace {

using llm::testing::all_finite;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

float sum_of(std::span<const float> v) { return std::accumulate(v.begin(), v.end(), 0.0f); }

}  // namespace

TEST_SUITE_BEGIN("ops");

// ---------------------------------------------------------------------------------------------- linear

TEST_CASE("ops linear multiplies by the transposed (out in) weight") {
  // x: (2, 3), W: (out = 2, in = 3). y = x W^T: (2, 2). The weight is non-square on purpose: x W (no
  // transpose) is not even defined for (2, 3) x (2, 3), so only the (out, in) reading gives these numbers.
  const Tensor x(Shape{2, 3}, std::vector<float>{1, 2, 3,  //
                                                 4, 5, 6});
  const Tensor w(Shape{2, 3}, std::vector<float>{1.0f, 0.0f, -1.0f,  //
                                                 0.5f, 1.0f, 2.0f});
  const Tensor y = llm::linear(x, w);
  INFO("linear(x, W) must compute y[n][o] = sum_i x[n][i] * W[o][i] with W stored (out, in)");
  REQUIRE(y.shape() == Shape{2, 2});
  CHECK(y(0, 0) == doctest::Approx(-2.0f));  // 1*1 + 2*0 + 3*(-1)  = -2
  CHECK(y(0, 1) == doctest::Approx(8.5f));   // 1*0.5 + 2*1 + 3*2   = 0.5 + 2 + 6 = 8.5
  CHECK(y(1, 0) == doctest::Approx(-2.0f));  // 4*1 + 5*0 + 6*(-1)  = -2
  CHECK(y(1, 1) == doctest::Approx(19.0f));  // 4*0.5 + 5*1 + 6*2   = 2 + 5 + 12 = 19
}

TEST_CASE("ops linear rejects a weight stored (in out)") {
  // The same x (2, 3) with W^T stored instead of W: a (3, 2) matrix. Its in_features (2) does not
  // match x's last dimension (3), so the (out, in) convention makes this a ShapeError instead of a
  // silently different result.
  const Tensor x(Shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  const Tensor wt(Shape{3, 2}, std::vector<float>{1.0f, 0.5f,  //
                                                  0.0f, 1.0f,  //
                                                  -1.0f, 2.0f});
  {
    INFO("linear expects the weight as (out, in) like nn.Linear: a (in, out) weight must throw ShapeError");
    CHECK_THROWS_WITH_AS(llm::linear(x, wt), doctest::Contains("in_features = 2"), ShapeError);
  }
  {
    INFO("linear must reject a weight that is not rank 2");
    CHECK_THROWS_AS(llm::linear(x, Tensor(Shape{6})), ShapeError);
  }
  {
    // The (3, 2) matrix is a valid weight for in = 2 -> out = 3.
    INFO("linear with W (out = 3, in = 2) must map 2 input features to 3 outputs");
    const Tensor y = llm::linear(Tensor(Shape{1, 2}, std::vector<float>{1, 10}), wt);
    REQUIRE(y.shape() == Shape{1, 3});
    CHECK(y(0, 0) == doctest::Approx(6.0f));   // 1*1    + 10*0.5 = 6
    CHECK(y(0, 1) == doctest::Approx(10.0f));  // 1*0    + 10*1   = 10
    CHECK(y(0, 2) == doctest::Approx(19.0f));  // 1*(-1) + 10*2   = 19
  }
  {
    // Even where both orientations typecheck (a square weight), x W^T and x W differ:
    // W = [[1, 2], [3, 4]], x = {1, 10}: x W^T = {1 + 20, 3 + 40} = {21, 43}; x W would be {31, 42}.
    INFO("linear must use W^T: y_o = sum_i x_i W[o][i] and not sum_i x_i W[i][o]");
    const Tensor y = llm::linear(Tensor(Shape{2}, std::vector<float>{1, 10}),
                                 Tensor(Shape{2, 2}, std::vector<float>{1, 2, 3, 4}));
    CHECK(y(0) == doctest::Approx(21.0f));
    CHECK(y(1) == doctest::Approx(43.0f));
  }
}

TEST_CASE("ops linear keeps the leading dimensions") {
  const Tensor w(Shape{2, 3}, std::vector<float>{1.0f, 0.0f, -1.0f, 0.5f, 1.0f, 2.0f});
  INFO("linear must map (..., in) to (..., out) for rank 1 and rank 3 inputs");
  const Tensor x1(Shape{3}, std::vector<float>{1, 2, 3});
  const Tensor y1 = llm::linear(x1, w);
  REQUIRE(y1.shape() == Shape{2});
  CHECK(y1(0) == doctest::Approx(-2.0f));  // 1 - 3
  CHECK(y1(1) == doctest::Approx(8.5f));   // 0.5 + 2 + 6

  const Tensor x3(Shape{2, 1, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  const Tensor y3 = llm::linear(x3, w);
  REQUIRE(y3.shape() == Shape{2, 1, 2});
  CHECK(y3(0, 0, 1) == doctest::Approx(8.5f));
  CHECK(y3(1, 0, 0) == doctest::Approx(-2.0f));  // 4 - 6
  CHECK(y3(1, 0, 1) == doctest::Approx(19.0f));  // 2 + 5 + 12
}

// --------------------------------------------------------------------------------------------- softmax

TEST_CASE("ops softmax matches hand values") {
  INFO("softmax(x)_i = exp(x_i) / sum_j exp(x_j)");
  // exp(0), exp(ln 2), exp(ln 3) = 1, 2, 3; sum 6 -> 1/6, 2/6, 3/6.
  std::vector<float> a{0.0f, std::log(2.0f), std::log(3.0f)};
  llm::softmax_inplace(a);
  CHECK(a[0] == doctest::Approx(1.0f / 6.0f));
  CHECK(a[1] == doctest::Approx(1.0f / 3.0f));
  CHECK(a[2] == doctest::Approx(0.5f));

  // {1, 2, 3}: e^1 / (e^1 + e^2 + e^3) = 1 / (1 + e + e^2) = 1 / 11.1073379 = 0.0900306;
  // 0.0900306 * e = 0.2447285; 0.0900306 * e^2 = 0.6652410.
  std::vector<float> b{1.0f, 2.0f, 3.0f};
  llm::softmax_inplace(b);
  CHECK(b[0] == doctest::Approx(0.0900306f));
  CHECK(b[1] == doctest::Approx(0.2447285f));
  CHECK(b[2] == doctest::Approx(0.6652410f));

  // Equal logits -> uniform: 1/4 each.
  std::vector<float> c{5.0f, 5.0f, 5.0f, 5.0f};
  llm::softmax_inplace(c);
  for (float p : c) CHECK(p == doctest::Approx(0.25f));
}

TEST_CASE("ops softmax subtracts the max so large logits do not overflow") {
  // {1000, 1001, 1002} = 1000 + {0, 1, 2}: the same probabilities as {1, 2, 3} (shift invariance),
  // 0.0900306, 0.2447285, 0.6652410. Without subtracting the max, exp(1000) = inf and inf/inf = NaN.
  INFO("softmax is shift invariant and must stay finite for logits of 1e3 to 1e4");
  std::vector<float> a{1000.0f, 1001.0f, 1002.0f};
  llm::softmax_inplace(a);
  CHECK_MESSAGE(all_finite(a), "softmax must subtract the max: large logits overflowed");
  CHECK_MESSAGE(sum_of(a) == doctest::Approx(1.0f), "softmax probabilities must sum to 1");
  CHECK(a[0] == doctest::Approx(0.0900306f));
  CHECK(a[1] == doctest::Approx(0.2447285f));
  CHECK(a[2] == doctest::Approx(0.6652410f));

  // 1e4 and -1e4: exp(-2e4) underflows to exactly 0, the big one gets 1.
  std::vector<float> b{1e4f, -1e4f};
  llm::softmax_inplace(b);
  CHECK_MESSAGE(all_finite(b), "softmax must subtract the max: logits of 1e4 overflowed");
  CHECK(b[0] == doctest::Approx(1.0f));
  CHECK(b[1] == doctest::Approx(0.0f));
}

TEST_CASE("ops softmax gives zero probability to minus infinity") {
  // {0, -inf, ln 3}: exp = 1, 0, 3; sum 4 -> 1/4, 0, 3/4. This is how a causal mask works.
  std::vector<float> a{0.0f, -kInf, std::log(3.0f)};
  llm::softmax_inplace(a);
  INFO("softmax must map -inf (a masked position) to probability exactly 0");
  CHECK(a[0] == doctest::Approx(0.25f));
  CHECK(a[1] == 0.0f);
  CHECK(a[2] == doctest::Approx(0.75f));

  // Only one finite entry: it gets everything.
  std::vector<float> b{-kInf, -kInf, 2.0f};
  llm::softmax_inplace(b);
  CHECK(b[0] == 0.0f);
  CHECK(b[1] == 0.0f);
  CHECK(b[2] == doctest::Approx(1.0f));
}

TEST_CASE("ops softmax of an all minus infinity row is an error") {
  std::vector<float> a{-kInf, -kInf, -kInf};
  INFO("softmax of a row that is entirely -inf (everything masked) must throw InvalidArgument");
  CHECK_THROWS_AS(llm::softmax_inplace(a), InvalidArgument);
  CHECK_THROWS_AS(llm::softmax(Tensor(Shape{2, 2}, std::vector<float>{0.0f, 1.0f, -kInf, -kInf})),
                  InvalidArgument);
}

TEST_CASE("ops softmax tensor normalises each last-dimension row") {
  // Row 0 {0, ln 3} -> exp 1, 3 -> 1/4, 3/4. Row 1 {2, 2} -> 1/2, 1/2.
  const Tensor p = llm::softmax(Tensor(Shape{2, 2}, std::vector<float>{0.0f, std::log(3.0f), 2.0f, 2.0f}));
  INFO("softmax(Tensor) must normalise over the last dimension only, row by row");
  REQUIRE(p.shape() == Shape{2, 2});
  CHECK(p(0, 0) == doctest::Approx(0.25f));
  CHECK(p(0, 1) == doctest::Approx(0.75f));
  CHECK(p(1, 0) == doctest::Approx(0.5f));
  CHECK(p(1, 1) == doctest::Approx(0.5f));

  // Rank 3 (B, T, V) = (2, 2, 3): every one of the 4 rows must sum to 1.
  std::vector<float> v(12);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.7f - 3.0f;
  const Tensor q = llm::softmax(Tensor(Shape{2, 2, 3}, v));
  for (Index b = 0; b < 2; ++b)
    for (Index t = 0; t < 2; ++t) {
      CAPTURE(b);
      CAPTURE(t);
      CHECK(sum_of(q.row(b, t)) == doctest::Approx(1.0f));
    }
}

// ----------------------------------------------------------------------------------------- log_softmax

TEST_CASE("ops add and mul are elementwise") {
  const Tensor a(Shape{2, 2}, std::vector<float>{1, 2, 3, 4});
  const Tensor b(Shape{2, 2}, std::vector<float>{10, 20, 30, 40});
  {
    INFO("add(a, b) must add elementwise");
    const Tensor s = llm::add(a, b);
    CHECK(s(0, 0) == 11.0f);  // 1 + 10
    CHECK(s(0, 1) == 22.0f);  // 2 + 20
    CHECK(s(1, 0) == 33.0f);  // 3 + 30
    CHECK(s(1, 1) == 44.0f);  // 4 + 40
  }
  {
    INFO("mul(a, b) must multiply elementwise (Hadamard), not as matrices");
    const Tensor p = llm::mul(a, b);
    CHECK(p(0, 0) == 10.0f);   // 1 * 10
    CHECK(p(0, 1) == 40.0f);   // 2 * 20
    CHECK(p(1, 0) == 90.0f);   // 3 * 30
    CHECK(p(1, 1) == 160.0f);  // 4 * 40 (a matrix product would give 3*20 + 4*40 = 220)
  }
  {
    INFO("add_inplace(a, b) must add b into a");
    Tensor c = a;
    llm::add_inplace(c, b);
    CHECK(c(1, 1) == 44.0f);
    CHECK(c(0, 0) == 11.0f);
  }
}

TEST_CASE("ops add and mul reject shape mismatches") {
  const Tensor a(Shape{2, 2});
  INFO("add/mul must throw ShapeError for different shapes, even when numel matches (no broadcasting)");
  CHECK_THROWS_AS(llm::add(a, Tensor(Shape{2, 3})), ShapeError);
  CHECK_THROWS_AS(llm::add(a, Tensor(Shape{4})), ShapeError);
  CHECK_THROWS_AS(llm::add(a, Tensor(Shape{4, 1})), ShapeError);
  CHECK_THROWS_AS(llm::mul(a, Tensor(Shape{2, 3})), ShapeError);
  CHECK_THROWS_AS(llm::mul(a, Tensor(Shape{1, 4})), ShapeError);
  Tensor c(Shape{2, 2});
  CHECK_THROWS_AS(llm::add_inplace(c, Tensor(Shape{2})), ShapeError);
  CHECK_THROWS_WITH_AS(llm::add(a, Tensor(Shape{2, 3})), doctest::Contains("(2, 3)"), ShapeError);
}

// ---------------------------------------------------------------------------------------------- argmax

TEST_CASE("ops argmax finds the largest value with ties to the lowest index") {
  INFO("argmax must return the index of the largest value; ties go to the lowest index");
  CHECK(llm::argmax(std::vector<float>{1.0f, 3.0f, 2.0f}) == 1);
  CHECK(llm::argmax(std::vector<float>{1.0f, 3.0f, 3.0f, 2.0f}) == 1);  // tie between 1 and 2
  CHECK(llm::argmax(std::vector<float>{5.0f, 5.0f, 5.0f}) == 0);
  CHECK(llm::argmax(std::vector<float>{-kInf, -1.0f, -2.0f}) == 1);
  CHECK(llm::argmax(std::vector<float>{-3.0f, -2.0f, -1.0f}) == 2);
  CHECK(llm::argmax(std::vector<float>{7.0f}) == 0);
}

TEST_CASE("ops argmax rejects NaN and empty input") {
  {
    INFO("argmax must throw InvalidArgument if any value is NaN (wherever it is)");
    CHECK_THROWS_AS(llm::argmax(std::vector<float>{1.0f, kNaN, 2.0f}), InvalidArgument);
    CHECK_THROWS_AS(llm::argmax(std::vector<float>{kNaN, 1.0f}), InvalidArgument);
    CHECK_THROWS_WITH_AS(llm::argmax(std::vector<float>{1.0f, 2.0f, kNaN}), doctest::Contains("index 2"),
                         InvalidArgument);
  }
  {
    INFO("argmax of an empty row must throw InvalidArgument");
    CHECK_THROWS_AS(llm::argmax(std::vector<float>{}), InvalidArgument);
  }
}

TEST_CASE("ops max_abs_diff returns the largest absolute difference") {
  // a - b = {1 - 1.5, 2 - 2, -3 - 1} = {-0.5, 0, -4}: the largest |.| is 4 (from a negative difference).
  const Tensor a(Shape{3}, std::vector<float>{1.0f, 2.0f, -3.0f});
  const Tensor b(Shape{3}, std::vector<float>{1.5f, 2.0f, 1.0f});
  {
    INFO("max_abs_diff(a, b) = max_i |a_i - b_i|");
    CHECK(llm::max_abs_diff(a, b) == 4.0f);
    CHECK(llm::max_abs_diff(b, a) == 4.0f);
    CHECK(llm::max_abs_diff(a, a) == 0.0f);
    // (2, 2): differences {0, 0.25, -0.75, 0} -> 0.75.
    const Tensor c(Shape{2, 2}, std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f});
    const Tensor d(Shape{2, 2}, std::vector<float>{1.0f, 0.75f, 1.75f, 1.0f});
    CHECK(llm::max_abs_diff(c, d) == 0.75f);
  }
  {
    INFO("max_abs_diff must throw ShapeError for different shapes");
    CHECK_THROWS_AS(llm::max_abs_diff(a, Tensor(Shape{1, 3})), ShapeError);
  }
}

TEST_CASE("ops check_shape names the tensor and both shapes") {
  const Tensor t(Shape{2, 3});
  INFO("check_shape must accept the exact shape and otherwise throw ShapeError naming what and both shapes");
  CHECK_NOTHROW(llm::check_shape(t, Shape{2, 3}, "logits"));
  CHECK_THROWS_WITH_AS(llm::check_shape(t, Shape{3, 2}, "logits"), "logits has shape (2, 3), expected (3, 2)",
                       ShapeError);
}

TEST_SUITE_END();  // ops

TEST_CASE("ops softmax and max_abs_diff see a NaN anywhere in the row") {
  // Eigen's default maxCoeff skips NaN unless it is first; the ops must not.
  for (size_t where = 0; where < 3; ++where) {
    CAPTURE(where);
    std::vector<float> row{1.0f, 2.0f, 3.0f};
    row[where] = std::nanf("");
    CHECK_THROWS_AS(llm::softmax_inplace(row), llm::InvalidArgument);
    Tensor a(Shape{3}, std::vector<float>{1.0f, 2.0f, 3.0f});
    Tensor b(Shape{3}, std::vector<float>{1.0f, 2.0f, 3.0f});
    b(static_cast<llm::Index>(where)) = std::nanf("");
    CHECK_MESSAGE(std::isnan(llm::max_abs_diff(a, b)), "a NaN must not compare as identical");
  }
}
