#include "chunk/bloom.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace sluice::chunk {

namespace {

constexpr size_t kParamsSize = 3;
constexpr size_t kWordBytes = 8;  // the filter is a whole number of 64-bit words
constexpr uint8_t kMaxNgram = 8;  // an n-gram is loaded into one uint64
constexpr uint8_t kMaxProbes = 16;

// One multiply, folded: enough to make the winnowing minimum a random-looking n-gram. (Probe
// positions remix the hash again, see ForEachProbe.) Part of the format: filters written with one
// hash cannot be read with another.
uint64_t HashNgram(uint64_t v) {
  const uint64_t x = v * 0x9E3779B97F4A7C15ULL;
  return x ^ (x >> 29);
}

// Appends to *selected the winnowed n-gram hashes of `s`: the minimum of every window of `w`
// consecutive n-gram hashes, once per run of windows sharing it. Nothing when `s` has fewer than w
// n-grams. *scratch is working space.
//
// Branch-free on purpose: about one window in (w + 1) / 2 has a new minimum, a coin flip the branch
// predictor cannot learn, and mispredictions made an earlier branchy version cost more than zstd
// compressing the same bytes. Window minima come from van Herk/Gil-Werman: within blocks of w
// hashes, the window starting at i has min(suffix_min[i], prefix_min[i+w-1]).
void Winnow(std::string_view s, size_t n, size_t w, std::vector<uint64_t>* scratch,
            std::vector<uint64_t>* selected) {
  if (s.size() < n + w - 1) {
    return;
  }
  const size_t count = s.size() - n + 1;
  scratch->resize(2 * count);
  uint64_t* h = scratch->data();
  uint64_t* suffix = h + count;
  const uint64_t mask = n == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * n)) - 1;
  const char* p = s.data();
  // Whole 8-byte loads while they stay inside the string, then byte copies for the tail.
  size_t i = 0;
  for (; i < count && i + 8 <= s.size(); ++i) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    h[i] = HashNgram(v & mask);
  }
  for (; i < count; ++i) {
    uint64_t v = 0;
    std::memcpy(&v, p + i, n);
    h[i] = HashNgram(v);
  }
  for (size_t block = 0; block < count; block += w) {
    size_t j = std::min(count, block + w) - 1;
    suffix[j] = h[j];
    while (j > block) {
      --j;
      suffix[j] = std::min(h[j], suffix[j + 1]);
    }
  }
  const size_t windows = count - w + 1;
  const size_t base = selected->size();
  selected->resize(base + windows);
  uint64_t* out = selected->data() + base;
  size_t n_out = 0;
  uint64_t prev = 0;
  // The prefix minimum of the block holding the window's last hash, up to that hash; the first
  // window's last hash is w - 1, in block 0.
  uint64_t prefix = h[0];
  for (size_t k = 1; k + 1 < w; ++k) {
    prefix = std::min(prefix, h[k]);
  }
  size_t pos_in_block = w - 1;
  for (size_t start = 0; start < windows; ++start) {
    const size_t last = start + w - 1;
    prefix = pos_in_block == 0 ? h[last] : std::min(prefix, h[last]);
    pos_in_block = pos_in_block + 1 == w ? 0 : pos_in_block + 1;
    const uint64_t m = std::min(suffix[start], prefix);
    out[n_out] = m;
    n_out += static_cast<size_t>(start == 0 || m != prev);
    prev = m;
  }
  selected->resize(base + n_out);
}

struct Params {
  uint8_t ngram, window, probes;
  std::string_view bits;
};

Params Parse(std::string_view bloom) {
  return {static_cast<uint8_t>(bloom[0]), static_cast<uint8_t>(bloom[1]),
          static_cast<uint8_t>(bloom[2]), bloom.substr(kParamsSize)};
}

// Calls visit(bit) for each probe of hash h in a filter of num_bits bits. Positions come from the
// high half of a 64x64-bit product ("fastrange"), so any filter size works. Winnowing selects small
// hashes, so h's high bits are biased towards zero: h is remixed (a multiply carries its low bits
// up) before its high bits pick a position.
template <typename Visit>
void ForEachProbe(uint64_t h, uint8_t probes, uint64_t num_bits, Visit visit) {
  const uint64_t y = h * 0x9E3779B97F4A7C15ULL;
  const uint64_t z = (std::rotl(h, 32) * 0xC2B2AE3D27D4EB4FULL) | 1;
  for (uint8_t i = 0; i < probes; ++i) {
    const uint64_t x = y + i * z;
    visit(static_cast<uint64_t>((static_cast<unsigned __int128>(x) * num_bits) >> 64));
  }
}

void SetBit(std::string* bits, uint64_t bit) {
  (*bits)[bit >> 3] =
      static_cast<char>(static_cast<uint8_t>((*bits)[bit >> 3]) | (1u << (bit & 7)));
}

}  // namespace

void BloomBuilder::AddLine(std::string_view line) {
  Winnow(line, params_.ngram, params_.window, &scratch_, &selected_);
}

std::string BloomBuilder::Finish() {
  if (selected_.empty()) {
    return {};
  }
  // Size the filter from the number of distinct selected hashes, estimated by linear counting over
  // a bitmap twice as large as the (repeating) selection: the fraction of bits left clear z gives
  // distinct = -m ln z.
  const uint64_t count_bits = std::bit_ceil(std::max<uint64_t>(64, 2 * selected_.size()));
  counter_.assign(count_bits / 8, '\0');
  for (uint64_t h : selected_) {
    ForEachProbe(h, 1, count_bits, [&](uint64_t bit) { SetBit(&counter_, bit); });
  }
  uint64_t set = 0;
  for (size_t i = 0; i < counter_.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, counter_.data() + i, 8);
    set += static_cast<uint64_t>(std::popcount(v));
  }
  const double clear = static_cast<double>(count_bits - set) / static_cast<double>(count_bits);
  const double distinct = -static_cast<double>(count_bits) * std::log(std::max(clear, 1e-9));
  // p probes for d keys fill 1 - e^(-p d / m) of m bits.
  const double bits_needed =
      static_cast<double>(params_.probes) * distinct / -std::log(1.0 - params_.target_fill);
  const uint64_t words = std::max<uint64_t>(1, static_cast<uint64_t>(bits_needed / 64.0) + 1);

  std::string out(kParamsSize + words * kWordBytes, '\0');
  out[0] = static_cast<char>(params_.ngram);
  out[1] = static_cast<char>(params_.window);
  out[2] = static_cast<char>(params_.probes);
  std::string bits(words * kWordBytes, '\0');
  for (uint64_t h : selected_) {
    ForEachProbe(h, params_.probes, words * 64, [&](uint64_t bit) { SetBit(&bits, bit); });
  }
  std::memcpy(out.data() + kParamsSize, bits.data(), bits.size());
  selected_.clear();
  return out;
}

bool BloomValid(std::string_view bloom) {
  if (bloom.size() < kParamsSize + kWordBytes) {
    return false;
  }
  Params p = Parse(bloom);
  return p.ngram >= 1 && p.ngram <= kMaxNgram && p.window >= 1 && p.probes >= 1 &&
         p.probes <= kMaxProbes && p.bits.size() % kWordBytes == 0;
}

size_t BloomGuaranteedLen(std::string_view bloom) {
  if (bloom.empty()) {
    return std::numeric_limits<size_t>::max();
  }
  Params p = Parse(bloom);
  return size_t{p.ngram} + p.window - 1;
}

bool BloomMayContain(std::string_view bloom, std::string_view literal) {
  if (bloom.empty()) {
    return true;
  }
  Params p = Parse(bloom);
  thread_local std::vector<uint64_t> scratch, selected;
  selected.clear();
  Winnow(literal, p.ngram, p.window, &scratch,
         &selected);  // nothing if literal is short
  const uint64_t num_bits = uint64_t{p.bits.size()} * 8;
  const auto* b = reinterpret_cast<const uint8_t*>(p.bits.data());
  for (uint64_t h : selected) {
    bool present = true;
    ForEachProbe(h, p.probes, num_bits, [&](uint64_t bit) {
      present = present && (b[bit >> 3] & (1u << (bit & 7))) != 0;
    });
    if (!present) {
      return false;
    }
  }
  return true;
}

}  // namespace sluice::chunk
