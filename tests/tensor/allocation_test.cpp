// Tensor views, the Arena's named regions, and the ActivationAllocator's bump
// allocation, capacity errors and high-water mark.
#include <gtest/gtest.h>

#include <cstdint>

#include "primus/tensor/activation_allocator.hpp"
#include "primus/tensor/arena.hpp"
#include "primus/tensor/tensor.hpp"

namespace primus::tensor {
namespace {

TEST(Tensor, ContiguousViewShapeAndStrides) {
  std::vector<float> storage(24);
  Tensor t(storage.data(), DType::fp32, {2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_EQ(t.strides, (std::vector<std::int64_t>{12, 4, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.data_as<float>(), storage.data());
  EXPECT_THROW(t.data_as<std::int32_t>(), std::invalid_argument);
  t.strides = {1, 2, 6};  // a transposed view
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.describe(), "fp32[2, 3, 4] cpu");
}

TEST(Arena, RegionsAreAlignedDisjointAndZeroed) {
  Arena arena({{"parameters", 100}, {"gradients", 100}, {"empty", 0}, {"state", 8}});
  const ArenaRegion& parameters = arena.region_info("parameters");
  const ArenaRegion& gradients = arena.region_info("gradients");
  EXPECT_EQ(parameters.offset, 0u);
  EXPECT_GE(gradients.offset, parameters.offset + parameters.bytes);
  for (const ArenaRegion& r : arena.regions()) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(arena.region(r.name)) % Arena::kAlignment, 0u) << r.name;
  }
  for (std::size_t i = 0; i < arena.bytes(); ++i) ASSERT_EQ(arena.data()[i], std::byte{0});
  EXPECT_THROW(arena.region("optimizer"), std::out_of_range);
  EXPECT_THROW(Arena({{"a", 1}, {"a", 2}}), std::invalid_argument);
}

TEST(ActivationAllocator, BumpsResetsAndTracksHighWater) {
  ActivationAllocator allocator(1024);
  float* a = allocator.allocate<float>(10);  // 40 bytes -> 64
  float* b = allocator.allocate<float>(20);  // 80 bytes -> 128
  EXPECT_EQ(reinterpret_cast<std::byte*>(b) - reinterpret_cast<std::byte*>(a), 64);
  EXPECT_EQ(allocator.used(), 192u);
  allocator.reset();
  EXPECT_EQ(allocator.used(), 0u);
  allocator.allocate<float>(4);
  EXPECT_EQ(allocator.high_water(), 192u);
  EXPECT_THROW(allocator.allocate_bytes(2000), std::length_error);
}

TEST(ActivationAllocator, MeasuringCountsWithoutMemory) {
  ActivationAllocator measuring = ActivationAllocator::measuring();
  EXPECT_EQ(measuring.allocate<float>(1000), nullptr);
  measuring.allocate<float>(1);
  EXPECT_EQ(measuring.high_water(), 4032u + 64u);  // each request rounded up to 64 bytes
  EXPECT_TRUE(measuring.is_measuring());
}

}  // namespace
}  // namespace primus::tensor
