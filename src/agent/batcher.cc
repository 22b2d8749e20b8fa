#include "agent/batcher.h"

#include <snappy.h>

#include <algorithm>

#include "chunk/codec.h"
#include "common/check.h"
#include "push.pb.h"

namespace sluice::agent {

namespace {

using StreamList =
    std::vector<std::pair<const StreamLabels*, std::vector<std::pair<int64_t, std::string>>*>>;

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '\t') {
      *out += "\\t";
    } else if (c == '\r') {
      *out += "\\r";
    } else if (u < 0x20) {
      *out += "\\u00";
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 15]);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

}  // namespace

std::string EncodeProtobufSnappy(const StreamList& streams) {
  logproto::PushRequest req;
  for (const auto& [labels, entries] : streams) {
    auto* s = req.add_streams();
    s->set_labels(labels->text);
    s->mutable_entries()->Reserve(static_cast<int>(entries->size()));
    for (auto& [ts, line] : *entries) {
      auto* e = s->add_entries();
      e->mutable_timestamp()->set_seconds(ts / 1'000'000'000);
      e->mutable_timestamp()->set_nanos(static_cast<int32_t>(ts % 1'000'000'000));
      e->set_line(std::move(line));
    }
  }
  std::string raw;
  req.SerializeToString(&raw);
  req.Clear();
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

std::string EncodeJson(const StreamList& streams) {
  std::string out = "{\"streams\":[";
  bool first_stream = true;
  for (const auto& [labels, entries] : streams) {
    if (!first_stream) out.push_back(',');
    first_stream = false;
    out += "{\"stream\":{";
    bool first = true;
    for (const auto& [k, v] : labels->pairs) {
      if (!first) out.push_back(',');
      first = false;
      AppendJsonString(&out, k);
      out.push_back(':');
      AppendJsonString(&out, v);
    }
    out += "},\"values\":[";
    bool first_entry = true;
    for (const auto& [ts, line] : *entries) {
      if (!first_entry) out.push_back(',');
      first_entry = false;
      out += "[\"";
      out += std::to_string(ts);
      out += "\",";
      AppendJsonString(&out, line);
      out.push_back(']');
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

void BatchBuilder::Add(Item item, int64_t now_ns) {
  ++items_;
  charge_ += item.charge;
  TrackedFile* f = item.file.get();
  int64_t ts = item.preset_ts;
  if (ts == 0) ts = std::max(now_ns, f->last_ts + 1);
  int64_t last = ts + static_cast<int64_t>(item.line_count) - 1;
  f->last_ts = std::max(f->last_ts, last);

  if (f->persistent) {
    auto [it, added] = file_index_.try_emplace(f->id, files_.size());
    if (added) files_.push_back(FileRuns{item.file, {}, 0, {}});
    FileRuns& fr = files_[it->second];
    bool contiguous = !fr.runs.empty() && fr.runs.back().end == item.start_offset;
    if (f->journal) {
      if (contiguous) {
        fr.runs.back().end = item.end_offset;
      } else {
        fr.runs.push_back(TimestampRun{item.start_offset, item.end_offset, 0});
      }
      if (!item.cursor.empty()) fr.cursor = std::move(item.cursor);
    } else if (contiguous && fr.next_ts == ts) {
      fr.runs.back().end = item.end_offset;
    } else {
      fr.runs.push_back(TimestampRun{item.start_offset, item.end_offset, ts});
    }
    fr.next_ts = last + 1;
  }

  if (item.shed) {
    shed_lines_ += item.line_count;
    return;
  }
  ++lines_;
  bytes_ += item.line.size();
  auto [sit, sadded] = stream_index_.try_emplace(item.labels->text, streams_.size());
  if (sadded) streams_.push_back(StreamBuf{item.labels, {}});
  streams_[sit->second].entries.emplace_back(ts, std::move(item.line));
}

Batch BatchBuilder::Cut(uint64_t id) {
  Batch b;
  b.id = id;
  b.lines = lines_;
  b.line_bytes = bytes_;
  b.shed_lines = shed_lines_;
  b.charge = charge_;
  if (lines_ > 0) {
    StreamList list;
    list.reserve(streams_.size());
    for (auto& s : streams_) list.emplace_back(s.labels.get(), &s.entries);
    if (encoding_ == Encoding::kProtobuf) {
      b.body = EncodeProtobufSnappy(list);
      b.content_type = "application/x-protobuf";
    } else {
      b.body = EncodeJson(list);
      b.content_type = "application/json";
    }
    if (compression_ == Compression::kGzip) {
      std::string gz;
      // Fails only for bodies over 2GB, which batch_size rules out.
      SLUICE_CHECK(chunk::Compress(chunk::Codec::kGzip, b.body, &gz).ok());
      b.body = std::move(gz);
      b.content_encoding = "gzip";
    }
  }
  for (auto& fr : files_) {
    b.segments.push_back(
        BatchSegment{std::move(fr.file), std::move(fr.runs), std::move(fr.cursor)});
  }
  items_ = bytes_ = lines_ = shed_lines_ = charge_ = 0;
  streams_.clear();
  stream_index_.clear();
  files_.clear();
  file_index_.clear();
  return b;
}

}  // namespace sluice::agent
