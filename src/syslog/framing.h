#pragma once

// Splitting a TCP byte stream into syslog frames (RFC 6587). A connection uses one of two
// framings, decided by its first byte:
//
//   octet counting       MSG-LEN SP SYSLOG-MSG     MSG-LEN = NONZERO-DIGIT *DIGIT (bytes)
//   non-transparent      SYSLOG-MSG LF             (CR LF and a trailing NUL are tolerated)
//
// A syslog message starts with "<", never a digit, so a leading digit means octet counting.
// Frames longer than the listener's maximum are skipped whole (counted, not buffered); an
// octet count that is not a number leaves no way to find the next frame, so it ends the
// connection.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::syslog {

class StreamFramer {
 public:
  enum class Mode : uint8_t { kUndecided, kOctetCounting, kNonTransparent };

  // Called with each complete frame (borrowed for the call only).
  using FrameFn = std::function<void(std::string_view frame)>;
  // Called once per frame skipped for its size, with its length in bytes.
  using OversizeFn = std::function<void(size_t bytes)>;

  explicit StreamFramer(size_t max_frame_bytes) : max_frame_(max_frame_bytes) {}

  // Consumes bytes received. An error means the stream is broken (bad octet count); the
  // connection should be closed. Not thread-safe: one framer per connection.
  Status Feed(std::string_view data, const FrameFn& on_frame, const OversizeFn& on_oversize);
  // At end of stream: a last line without its LF is still a frame; a partial octet-counted
  // frame is reported as an error.
  Status Finish(const FrameFn& on_frame);

  Mode mode() const { return mode_; }

 private:
  Status Drain(const FrameFn& on_frame, const OversizeFn& on_oversize);

  size_t max_frame_;
  Mode mode_ = Mode::kUndecided;
  std::string buf_;
  size_t skip_ = 0;          // octet counting: bytes of an oversize frame still to drop
  bool skip_line_ = false;   // non-transparent: dropping an oversize line up to its LF
  size_t skipped_line_ = 0;  // ... and its length so far
};

}  // namespace sluice::syslog
