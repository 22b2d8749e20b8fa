#include "agent/multiline.h"

#include <re2/re2.h>

namespace sluice::agent {

MultilineJoiner::MultilineJoiner(const MultilineConfig& config, uint64_t max_line_size)
    : config_(config),
      max_line_size_(max_line_size),
      firstline_(std::make_unique<re2::RE2>(config.firstline, re2::RE2::Quiet)) {}

MultilineJoiner::~MultilineJoiner() = default;

void MultilineJoiner::Start(const LineOut& line) {
  block_.assign(line.line);
  start_ = line.start;
  end_ = line.end;
  lines_ = 1;
  truncated_ = line.truncated;
  split_ = line.split;
}

void MultilineJoiner::Add(const LineOut& line, int64_t now_ns, const LineFn& emit) {
  bool first =
      re2::RE2::PartialMatch(re2::StringPiece(line.line.data(), line.line.size()), *firstline_);
  if (!seen_first_ && !first) {
    emit(line);
    return;
  }
  seen_first_ = true;
  last_add_ns_ = now_ns;
  if (first || lines_ == 0 || block_.size() + 1 + line.line.size() > max_line_size_) {
    Flush(emit);
    Start(line);
  } else {
    block_.push_back('\n');
    block_.append(line.line);
    end_ = line.end;
    ++lines_;
    truncated_ |= line.truncated;
    split_ |= line.split;
  }
  if (lines_ >= config_.max_lines) Flush(emit);
}

void MultilineJoiner::FlushIfIdle(int64_t now_ns, const LineFn& emit) {
  if (lines_ > 0 && now_ns - last_add_ns_ >= config_.max_wait_time) Flush(emit);
}

void MultilineJoiner::Flush(const LineFn& emit) {
  if (lines_ == 0) return;
  LineOut out;
  out.line = block_;
  out.start = start_;
  out.end = end_;
  out.truncated = truncated_;
  out.split = split_;
  lines_ = 0;
  emit(out);
  block_.clear();
}

}  // namespace sluice::agent
