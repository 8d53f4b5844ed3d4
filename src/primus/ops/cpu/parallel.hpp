// The size below which an op's loop runs on one thread: forking an OpenMP team
// costs more than a small loop saves (much more on a loaded machine).
#pragma once

#include <cstdint>

namespace primus::ops::cpu {

inline constexpr std::int64_t kParallelMinElements = std::int64_t{1} << 15;

}  // namespace primus::ops::cpu
