#include "common/checksum.h"

#include <libdeflate.h>

namespace sluice {

uint32_t Crc32(std::string_view data) { return Crc32Extend(0, data); }

uint32_t Crc32Extend(uint32_t crc, std::string_view data) {
  return libdeflate_crc32(crc, data.data(), data.size());
}

}  // namespace sluice
