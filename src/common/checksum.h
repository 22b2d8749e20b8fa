#pragma once

#include <cstdint>
#include <string_view>

namespace sluice {

// CRC-32 (IEEE) via libdeflate, which uses PCLMUL/ARMv8 CRC instructions where present:
// every record and block sluice writes carries one, so it sits on the write path.
uint32_t Crc32(std::string_view data);
uint32_t Crc32Extend(uint32_t crc, std::string_view data);

}  // namespace sluice
