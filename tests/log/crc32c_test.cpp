// CRC-32C known-answer vectors (RFC 3720 appendix B.4 and the classic check value).
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "primus/log/crc32c.hpp"

namespace primus::log {
namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(crc32c(bytes_of("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c(bytes_of("")), 0u);
  std::vector<std::byte> zeros(32, std::byte{0}), ones(32, std::byte{0xFF}), ascending(32);
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<std::byte>(i);
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32c, TfRecordMask) {
  const std::uint32_t crc = 0xE3069283u;
  const std::uint32_t rotated = (crc >> 15) | (crc << 17);
  EXPECT_EQ(masked_crc32c(bytes_of("123456789")), static_cast<std::uint32_t>(rotated + 0xa282ead8u));
}

}  // namespace
}  // namespace primus::log
