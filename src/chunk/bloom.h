#pragma once

// Per-block n-gram bloom filters, so a query with a `|= "literal"` filter can rule a block out from
// the chunk index alone, without decompressing it. Mirrored in docs/formats/chunk.md.
//
// `|=` is substring search, so whole-word tokens would miss a needle that is part of a longer
// token; the filter holds byte n-grams instead. Storing every n-gram would cost more than the
// compressed block, so n-grams are sampled by content (winnowing): over each line, in every window
// of w consecutive n-gram hashes, the smallest hash is selected. Any literal of at least w + n - 1
// bytes contains whole windows, and the hash a window selects depends only on the bytes inside it,
// so every hash the literal selects on its own is also selected in every line holding it: a filter
// missing one of them proves the literal absent. Shorter literals are never ruled out. The filter
// is sized from the number of distinct selected hashes (estimated by linear counting, so repetitive
// blocks get small filters) for kBloomTargetFill of its bits set.
//
//   bloom := ngram u8 | window u8 | probes u8 | bits (a whole number of 64-bit words)
//
// An n-gram's hash is h = x ^ (x >> 29), x = v * 0x9E3779B97F4A7C15 (mod 2^64), v its bytes loaded
// little-endian into a uint64. Probe i sets bit floor(x * num_bits / 2^64), x = y + i * z (mod
// 2^64), with y = h * 0x9E3779B97F4A7C15 and z = (rotl(h, 32) * 0xC2B2AE3D27D4EB4F) | 1 (mod 2^64);
// bit b is bit (b mod 8) of byte b / 8. Readers use the parameters stored in the filter, so they
// can be retuned without a format change.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::chunk {

// Parameters for new filters (see the measurements in docs/formats/chunk.md).
inline constexpr uint8_t kBloomNgram = 5;
inline constexpr uint8_t kBloomWindow = 6;
inline constexpr uint8_t kBloomProbes = 1;
inline constexpr double kBloomTargetFill = 0.5;
// Literals at least this long are ruled out by a filter built with the parameters above.
inline constexpr size_t kBloomMinGuaranteedLen = kBloomNgram + kBloomWindow - 1;

struct BloomParams {
  uint8_t ngram = kBloomNgram;    // 1..8
  uint8_t window = kBloomWindow;  // >= 1
  uint8_t probes = kBloomProbes;  // 1..16
  double target_fill = kBloomTargetFill;
};

// Collects the selected n-gram hashes of a block's lines. Not thread-safe.
class BloomBuilder {
 public:
  explicit BloomBuilder(const BloomParams& params = {}) : params_(params) {}

  void AddLine(std::string_view line);
  // The serialized filter, or "" when no line was long enough to select anything (a block without a
  // filter is never skipped). Resets the builder, keeping its buffers.
  std::string Finish();

 private:
  BloomParams params_;
  std::vector<uint64_t> selected_;  // with repeats; the filter absorbs them
  std::vector<uint64_t> scratch_;   // one line's n-gram hashes
  std::string counter_;             // linear-counting bitmap for sizing the filter
};

// False only when `bloom` proves that no line it was built from contains `literal`.
// REQUIRES: BloomValid(bloom).
bool BloomMayContain(std::string_view bloom, std::string_view literal);

// The shortest literal the filter can rule out (SIZE_MAX for an empty filter).
size_t BloomGuaranteedLen(std::string_view bloom);

// Whether the bytes parse as a filter (parameters in range, whole 64-bit words).
bool BloomValid(std::string_view bloom);

}  // namespace sluice::chunk
