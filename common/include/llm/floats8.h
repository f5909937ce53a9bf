// floats8.h — Floats8, eight floats in one variable of g++'s vector type: the unit of the project's few
// hand-vectorised loops (linear()'s few-rows kernel in ops.cpp, llm/attention_kernels.h). Not an Eigen
// fixed-size array: those cost a function call per operation in a Debug build, which the tests run.
#pragma once

namespace llm::detail {

// One AVX register (two SSE ones). Read and written with memcpy (data starts anywhere); never passed to
// a function by value (a 32-byte argument would change the calling convention with the -m flags: g++'s
// -Wpsabi). Partial sums live in such variables for a whole loop and are stored once.
typedef float Floats8 __attribute__((vector_size(8 * sizeof(float))));
inline constexpr long kFloats8Lanes = 8;

}  // namespace llm::detail
