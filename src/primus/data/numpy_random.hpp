// A NumPy-compatible RandomState for index shuffles: MT19937 seeded as
// numpy.random.RandomState(seed) seeds it, with RandomState.shuffle's
// Fisher-Yates walk and bounded draws (random_interval), so that the GPT
// dataset's document and shuffle indices follow Megatron's construction.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>

namespace primus::data {

class NumpyRandomState {
 public:
  // numpy seeds a scalar integer seed with init_genrand, as std::mt19937 does.
  explicit NumpyRandomState(std::uint32_t seed) : engine_(seed) {}

  // A uniform integer in [0, max], drawn by masked rejection as numpy's random_interval.
  std::uint64_t random_interval(std::uint64_t max) {
    if (max == 0) return 0;
    std::uint64_t mask = max;
    for (int shift = 1; shift <= 32; shift *= 2) mask |= mask >> shift;
    std::uint64_t value = 0;
    if (max <= 0xffffffffULL) {
      do value = next_uint32() & mask; while (value > max);
    } else {
      do value = next_uint64() & mask; while (value > max);
    }
    return value;
  }

  template <typename T>
  void shuffle(std::span<T> values) {
    for (std::size_t i = values.size(); i-- > 1;) {
      const auto j = static_cast<std::size_t>(random_interval(i));
      std::swap(values[i], values[j]);
    }
  }

 private:
  std::uint64_t next_uint32() { return static_cast<std::uint32_t>(engine_()); }
  std::uint64_t next_uint64() {
    const std::uint64_t high = next_uint32();
    return (high << 32) | next_uint32();
  }

  std::mt19937 engine_;
};

}  // namespace primus::data
