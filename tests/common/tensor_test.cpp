// tensor_test.cpp — llm::Shape, llm::BasicTensor and make_ids: printing, element order, zero-copy
// row views, reshaping and the ShapeErrors that guard them.
#include <doctest/doctest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "llm/errors.h"
#include "llm/tensor.h"
#include "test_support.h"

using llm::IdTensor;
using llm::Index;
using llm::Shape;
using llm::ShapeError;
using llm::Tensor;

TEST_SUITE_BEGIN("tensor");

TEST_CASE("tensor Shape prints its dimensions in parentheses") {
  INFO("Shape::str() and operator<< must print \"(d0, d1, ...)\"");
  CHECK(Shape{2, 3, 4}.str() == "(2, 3, 4)");
  CHECK(Shape{5}.str() == "(5)");
  CHECK(Shape{1, 2, 3, 4}.str() == "(1, 2, 3, 4)");
  CHECK_MESSAGE(Shape{}.str() == "()", "the rank-0 'no tensor' shape prints as ()");

  std::ostringstream out;
  out << Shape{2, 16, 1000};
  CHECK_MESSAGE(out.str() == "(2, 16, 1000)", "operator<< must print the same text as str()");
}

TEST_CASE("tensor Shape numel rank and equality") {
  {
    INFO("Shape::numel is the product of the dimensions");
    CHECK(Shape{2, 3, 4}.numel() == 24);  // 2 * 3 * 4
    CHECK(Shape{7}.numel() == 7);
    CHECK(Shape{2, 0, 3}.numel() == 0);  // a zero dimension empties the tensor
    CHECK_MESSAGE(Shape{}.numel() == 0, "the rank-0 shape holds no elements");
    CHECK(Shape{2, 3, 4}.rank() == 3);
    CHECK(Shape{2, 3, 4}[1] == 3);
  }
  {
    INFO("Shape equality compares rank and every dimension");
    CHECK(Shape{2, 3} == Shape{2, 3});
    CHECK_FALSE(Shape{2, 3} == Shape{3, 2});
    CHECK_FALSE(Shape{6} == Shape{6, 1});
  }
}

TEST_CASE("tensor Shape rejects bad ranks and dimensions") {
  INFO("Shape construction must reject rank > 4 and negative dimensions with ShapeError");
  CHECK_THROWS_AS(Shape({1, 2, 3, 4, 5}), ShapeError);
  CHECK_THROWS_WITH_AS(Shape({2, -1}), doctest::Contains("-1"), ShapeError);
  CHECK_THROWS_AS(((void)Shape{2, 3}[2]), ShapeError);
  CHECK_THROWS_AS(((void)Shape{2, 3}[-1]), ShapeError);
}

TEST_CASE("tensor construction fills and counts elements") {
  const Tensor t(Shape{2, 3, 4}, 1.5f);
  INFO("a filled tensor has numel = product of dims and every element equal to the fill value");
  CHECK(t.numel() == 24);
  CHECK(t.rank() == 3);
  CHECK(t.size(0) == 2);
  CHECK(t.size(1) == 3);
  CHECK(t.size(2) == 4);
  CHECK_FALSE(t.empty());
  for (float v : t.flat()) CHECK(v == 1.5f);

  const Tensor zero(Shape{3});
  CHECK_MESSAGE(zero(0) == 0.0f, "the default fill value is T{} = 0");

  const Tensor none;
  CHECK_MESSAGE(none.empty(), "a default-constructed tensor is empty");
  CHECK(none.rank() == 0);
  CHECK(none.numel() == 0);
}

TEST_CASE("tensor construction with wrong value count names both counts") {
  INFO("BasicTensor(shape, values) must reject a value count that differs from shape.numel()");
  // (2, 3) needs 2 * 3 = 6 values; 5 are given.
  CHECK_THROWS_WITH_AS(Tensor(Shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5}), doctest::Contains("needs 6"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(Tensor(Shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5}), doctest::Contains("got 5"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(Tensor(Shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5}), doctest::Contains("(2, 3)"),
                       ShapeError);
  // Too many values is just as wrong: 7 for 6.
  CHECK_THROWS_AS(Tensor(Shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6, 7}), ShapeError);
  CHECK_NOTHROW(Tensor(Shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST_CASE("tensor elements are stored in row-major order") {
  // Values 0..23 in flat order; in a row-major (2, 3, 4) tensor, element (i, j, k) sits at flat
  // offset (i * 3 + j) * 4 + k, so its value equals that offset.
  std::vector<float> values(24);
  for (size_t n = 0; n < values.size(); ++n) values[n] = static_cast<float>(n);
  const Tensor t(Shape{2, 3, 4}, values);
  INFO("operator()(i, j, k) must address flat offset (i * 3 + j) * 4 + k (row-major, last axis fastest)");
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j)
      for (Index k = 0; k < 4; ++k) {
        CAPTURE(i);
        CAPTURE(j);
        CAPTURE(k);
        CHECK(t(i, j, k) == static_cast<float>((i * 3 + j) * 4 + k));
      }
  CHECK(t(1, 2, 3) == 23.0f);  // (1 * 3 + 2) * 4 + 3 = 23, the last element
  CHECK(t(0, 1, 0) == 4.0f);   // (0 * 3 + 1) * 4 + 0 = 4
  CHECK(t(1, 0, 0) == 12.0f);  // (1 * 3 + 0) * 4 + 0 = 12

  // Rank 2 and rank 4 follow the same rule.
  const Tensor m(Shape{2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(m(1, 2) == 5.0f);  // 1 * 3 + 2 = 5
  CHECK(m(1, 0) == 3.0f);  // 1 * 3 + 0 = 3
  std::vector<float> v4(2 * 2 * 2 * 3);
  for (size_t n = 0; n < v4.size(); ++n) v4[n] = static_cast<float>(n);
  const Tensor q(Shape{2, 2, 2, 3}, v4);
  CHECK(q(1, 0, 1, 2) == 17.0f);  // ((1 * 2 + 0) * 2 + 1) * 3 + 2 = 17

  Tensor w(Shape{2, 2});
  w(0, 1) = 7.0f;
  CHECK_MESSAGE(w.data()[1] == 7.0f, "writing (0, 1) of a (2, 2) tensor must land at flat index 1");
}

TEST_CASE("tensor row views are zero-copy") {
  std::vector<float> values(24);
  for (size_t n = 0; n < values.size(); ++n) values[n] = static_cast<float>(n);
  Tensor t(Shape{2, 3, 4}, values);

  std::span<float> r = t.row(1, 2);
  INFO("row(b, t) must be a view of the tensor's own buffer, not a copy");
  REQUIRE(r.size() == 4);
  CHECK(r.data() == t.data() + 20);  // (1 * 3 + 2) * 4 = 20
  CHECK(r[0] == 20.0f);
  CHECK(r[3] == 23.0f);

  r[1] = -5.0f;
  CHECK_MESSAGE(t(1, 2, 1) == -5.0f, "writing through row(b, t) must change the tensor itself");

  for (float& x : t.row(0, 0)) x = 100.0f;
  CHECK(t(0, 0, 0) == 100.0f);
  CHECK(t(0, 0, 3) == 100.0f);
  CHECK_MESSAGE(t(0, 1, 0) == 4.0f, "row(0, 0) must not reach into the next row");

  // Rank 2: row(i) of a (3, 2) matrix.
  Tensor m(Shape{3, 2}, std::vector<float>{0, 1, 2, 3, 4, 5});
  std::span<float> mr = m.row(2);
  REQUIRE(mr.size() == 2);
  CHECK(mr.data() == m.data() + 4);  // 2 * 2 = 4
  mr[0] = 9.0f;
  CHECK(m(2, 0) == 9.0f);

  const Tensor& ct = t;
  std::span<const float> cr = ct.row(1, 0);
  CHECK_MESSAGE(cr.data() == t.data() + 12, "the const row() is zero-copy too");  // (1 * 3 + 0) * 4
}

TEST_CASE("tensor row rejects wrong index count and out of range rows") {
  Tensor t(Shape{2, 3, 4});
  {
    INFO("row() must throw ShapeError for the wrong number of leading indices (checked in every build)");
    CHECK_THROWS_WITH_AS((void)t.row(0), doctest::Contains("got 1"), ShapeError);
    CHECK_THROWS_AS((void)t.row(0, 0, 0), ShapeError);
  }
  {
    INFO("row() must throw ShapeError for a leading index outside its axis");
    CHECK_THROWS_AS((void)t.row(2, 0), ShapeError);
    CHECK_THROWS_AS((void)t.row(0, 3), ShapeError);
    CHECK_THROWS_AS((void)t.row(-1, 0), ShapeError);
    CHECK_NOTHROW((void)t.row(1, 2));
  }
}

TEST_CASE("tensor element access checks rank and bounds in debug builds") {
#ifndef NDEBUG
  Tensor t(Shape{2, 3});
  {
    INFO("debug builds: indexing a rank-2 tensor with 1 3 or 4 indices must throw ShapeError");
    CHECK_THROWS_WITH_AS((void)t(0), doctest::Contains("rank-2"), ShapeError);
    CHECK_THROWS_AS((void)t(0, 0, 0), ShapeError);
    CHECK_THROWS_AS((void)t(0, 0, 0, 0), ShapeError);
  }
  {
    INFO("debug builds: an index outside its axis must throw ShapeError");
    CHECK_THROWS_AS((void)t(2, 0), ShapeError);
    CHECK_THROWS_AS((void)t(0, 3), ShapeError);
    CHECK_THROWS_AS((void)t(-1, 0), ShapeError);
    CHECK_NOTHROW((void)t(1, 2));
  }
#else
  CHECK_MESSAGE(true, "release build: element-access checks are compiled out by design");
#endif
}

TEST_CASE("tensor reshaped keeps data and element count") {
  Tensor t(Shape{2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  const float* buffer = t.data();
  Tensor r = std::move(t).reshaped(Shape{3, 2});
  {
    INFO("reshaped() must keep the row-major data and only change the shape");
    CHECK(r.shape() == Shape{3, 2});
    CHECK(r(0, 0) == 0.0f);
    CHECK(r(0, 1) == 1.0f);
    CHECK(r(1, 0) == 2.0f);  // flat index 1 * 2 + 0 = 2
    CHECK(r(2, 1) == 5.0f);  // flat index 2 * 2 + 1 = 5
    CHECK_MESSAGE(r.data() == buffer, "reshaped() moves the buffer, it does not copy it");

    Tensor flat = std::move(r).reshaped(Shape{6});
    CHECK(flat(4) == 4.0f);
  }
  {
    INFO("reshaped() to a different element count must throw ShapeError");
    Tensor u(Shape{2, 3});
    CHECK_THROWS_WITH_AS((void)std::move(u).reshaped(Shape{4, 2}), doctest::Contains("(4, 2)"), ShapeError);
  }
}

TEST_CASE("tensor fill overwrites every element") {
  Tensor t(Shape{2, 2}, std::vector<float>{1, 2, 3, 4});
  t.fill(-2.0f);
  INFO("fill(v) must set every element to v");
  for (float v : t.flat()) CHECK(v == -2.0f);
}

TEST_CASE("tensor make_ids builds a batch of id rows") {
  const IdTensor ids = llm::make_ids({{1, 2, 3}, {4, 5, 6}});
  INFO("make_ids({{...}, {...}}) must build a (B, T) id tensor with the rows in order");
  REQUIRE(ids.shape() == Shape{2, 3});
  CHECK(ids(0, 0) == 1);
  CHECK(ids(0, 2) == 3);
  CHECK(ids(1, 0) == 4);
  CHECK(ids(1, 2) == 6);
  CHECK(ids.data()[4] == 5);  // row-major: (1, 1) is flat 1 * 3 + 1 = 4

  const IdTensor one = llm::make_ids({{7}});
  CHECK(one.shape() == Shape{1, 1});
  CHECK(one(0, 0) == 7);
}

TEST_CASE("tensor make_ids rejects ragged and empty rows") {
  {
    INFO("make_ids must throw ShapeError when rows differ in length, naming the bad row");
    CHECK_THROWS_WITH_AS(llm::make_ids({{1, 2, 3}, {4, 5}}), doctest::Contains("row 1"), ShapeError);
    CHECK_THROWS_AS(llm::make_ids({{1}, {2}, {3, 4}}), ShapeError);
  }
  {
    INFO("make_ids must throw ShapeError for no rows or an empty first row");
    CHECK_THROWS_AS(llm::make_ids({}), ShapeError);
    CHECK_THROWS_AS(llm::make_ids({{}}), ShapeError);
  }
}

TEST_SUITE_END();  // tensor
