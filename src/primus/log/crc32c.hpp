// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven, and the
// masked form TFRecord stores ((crc >> 15 | crc << 17) + 0xa282ead8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace primus::log {

// CRC-32C of `bytes` ("123456789" gives 0xE3069283).
std::uint32_t crc32c(std::span<const std::byte> bytes);

// TFRecord's masked CRC-32C of `bytes`.
std::uint32_t masked_crc32c(std::span<const std::byte> bytes);

}  // namespace primus::log
