#include "syslog/framing.h"

#include <fmt/format.h>

namespace sluice::syslog {

namespace {

// "4294967295" would already be far past any sane maximum; a longer count is garbage.
constexpr size_t kMaxCountDigits = 10;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Status StreamFramer::Feed(std::string_view data, const FrameFn& on_frame,
                          const OversizeFn& on_oversize) {
  if (mode_ == Mode::kUndecided) {
    if (data.empty()) return Status::OK();
    mode_ = IsDigit(data[0]) ? Mode::kOctetCounting : Mode::kNonTransparent;
  }
  if (mode_ == Mode::kOctetCounting && skip_ > 0) {
    size_t n = std::min(skip_, data.size());
    skip_ -= n;
    data.remove_prefix(n);
  }
  if (mode_ == Mode::kNonTransparent && skip_line_) {
    size_t lf = data.find('\n');
    if (lf == std::string_view::npos) {
      skipped_line_ += data.size();
      return Status::OK();
    }
    on_oversize(skipped_line_ + lf);
    skip_line_ = false;
    skipped_line_ = 0;
    data.remove_prefix(lf + 1);
  }
  buf_.append(data);
  return Drain(on_frame, on_oversize);
}

Status StreamFramer::Drain(const FrameFn& on_frame, const OversizeFn& on_oversize) {
  size_t pos = 0;  // bytes of buf_ consumed
  Status result = Status::OK();
  if (mode_ == Mode::kNonTransparent) {
    while (true) {
      size_t lf = buf_.find('\n', pos);
      if (lf == std::string::npos) break;
      std::string_view line(buf_.data() + pos, lf - pos);
      pos = lf + 1;
      if (line.size() > max_frame_) {
        on_oversize(line.size());
      } else if (!line.empty() && line != "\r") {
        on_frame(line);
      }
    }
    if (buf_.size() - pos > max_frame_) {
      // No LF within the limit: drop this line as it streams in instead of buffering it.
      skip_line_ = true;
      skipped_line_ = buf_.size() - pos;
      pos = buf_.size();
    }
  } else {
    while (pos < buf_.size()) {
      // Some senders end each counted frame with an LF anyway; it is not part of the count.
      if (buf_[pos] == '\n' || buf_[pos] == '\r') {
        ++pos;
        continue;
      }
      size_t sp = buf_.find(' ', pos);
      size_t digits = (sp == std::string::npos ? buf_.size() : sp) - pos;
      // MSG-LEN: a non-zero digit, then digits.
      bool numeric = digits > 0 && buf_[pos] != '0';
      uint64_t len = 0;
      for (size_t i = pos; i < pos + std::min(digits, kMaxCountDigits + 1); ++i) {
        numeric = numeric && IsDigit(buf_[i]);
        len = len * 10 + static_cast<uint64_t>(buf_[i] - '0');
      }
      if (!numeric || digits > kMaxCountDigits) {
        result = Status::InvalidArgument(
            fmt::format("invalid octet-counting frame: expected MSG-LEN SP, got \"{}\"",
                        std::string_view(buf_).substr(pos, std::min<size_t>(digits, 16))));
        pos = buf_.size();
        break;
      }
      if (sp == std::string::npos) break;  // the count is still arriving
      size_t body = sp + 1;
      if (len > max_frame_) {
        on_oversize(len);
        size_t have = buf_.size() - body;
        if (have >= len) {
          pos = body + len;
          continue;
        }
        skip_ = len - have;
        pos = buf_.size();
        break;
      }
      if (buf_.size() - body < len) break;  // the frame is still arriving
      on_frame(std::string_view(buf_.data() + body, len));
      pos = body + len;
    }
  }
  buf_.erase(0, pos);
  return result;
}

Status StreamFramer::Finish(const FrameFn& on_frame) {
  if (skip_line_ || skip_ > 0) return Status::OK();
  if (mode_ == Mode::kNonTransparent) {
    if (!buf_.empty() && buf_ != "\r") on_frame(buf_);
    buf_.clear();
    return Status::OK();
  }
  bool partial = buf_.find_first_not_of("\r\n") != std::string::npos;
  buf_.clear();
  if (partial) return Status::InvalidArgument("connection closed inside an octet-counted frame");
  return Status::OK();
}

}  // namespace sluice::syslog
