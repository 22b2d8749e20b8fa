#include "agent/journal.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "agent/relabel.h"
#include "http/json_writer.h"

#ifdef SLUICE_HAVE_SYSTEMD
#include <systemd/sd-journal.h>
#endif

namespace sluice::agent {

namespace {

std::string_view PriorityKeyword(std::string_view p) {
  static constexpr std::string_view kNames[] = {"emerg",   "alert",  "crit", "error",
                                                "warning", "notice", "info", "debug"};
  if (p.size() == 1 && p[0] >= '0' && p[0] <= '7') return kNames[p[0] - '0'];
  return p;
}

}  // namespace

std::map<std::string, std::string> JournalFieldLabels(
    const std::map<std::string, std::string>& fields) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : fields) {
    std::string label = "__journal_";
    for (char c : name) {
      label.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    if (name == "PRIORITY") out[label + "_keyword"] = std::string(PriorityKeyword(value));
    out[std::move(label)] = value;
  }
  return out;
}

#ifdef SLUICE_HAVE_SYSTEMD

namespace {

constexpr size_t kMaxCachedLabelSets = 4096;

int64_t WallNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct JournalReader::Impl {
  Impl(ReaderContext c, const SourceConfig* s)
      : ctx(c), source(s), relabeler(s->relabel_configs), key("journal-" + s->job_name) {}
  ~Impl() {
    if (journal != nullptr) sd_journal_close(journal);
  }

  Status Open();
  // Queues the entry the journal is positioned on; false once the budget is closed.
  bool Process();
  StreamLabelsPtr Labels(const std::map<std::string, std::string>& fields);
  bool Emit(std::string_view line, int64_t ts, std::string_view cursor, StreamLabelsPtr labels);

  ReaderContext ctx;
  const SourceConfig* source;
  Relabeler relabeler;
  const std::string key;
  sd_journal* journal = nullptr;
  bool have_current = false;  // positioned on an entry not yet read (resuming at a lost cursor)
  uint64_t next_offset = 0;   // entries' positions in this run, for the acknowledgement order
  TrackedFilePtr file;
  std::unique_ptr<LineSink> sink;
  std::unordered_map<std::string, StreamLabelsPtr> label_cache;
  metrics::Counter* relabel_dropped = nullptr;
};

Status JournalReader::Impl::Open() {
  const JournalConfig& jc = *source->journal;
  int r = jc.path.empty() ? sd_journal_open(&journal, SD_JOURNAL_LOCAL_ONLY)
                          : sd_journal_open_directory(&journal, jc.path.c_str(), 0);
  if (r < 0) {
    journal = nullptr;
    return Status::IOError(fmt::format("opening the journal {}: {}",
                                       jc.path.empty() ? "(system)" : jc.path, std::strerror(-r)));
  }
  // Fields past the threshold come back cut short; in truncate mode nothing past max_line_size is
  // kept anyway, in split mode every byte is shipped.
  bool truncate = ctx.config->limits.max_line_size_mode == "truncate";
  sd_journal_set_data_threshold(journal, truncate ? ctx.config->limits.max_line_size : 0);
  auto matches = ParseJournalMatches(jc.matches);
  if (!matches.ok()) return matches.status();
  for (const auto& m : *matches) {
    r = sd_journal_add_match(journal, m.data(), m.size());
    if (r < 0) {
      return Status::InvalidArgument(fmt::format("journal match \"{}\": {}", m, std::strerror(-r)));
    }
  }

  std::string cursor = ctx.positions->JournalCursor(key);
  bool positioned = false;
  if (!cursor.empty()) {
    uint64_t usec = 0;
    if (sd_journal_seek_cursor(journal, cursor.c_str()) >= 0 && sd_journal_next(journal) > 0 &&
        sd_journal_get_realtime_usec(journal, &usec) >= 0 &&
        WallNanos() - static_cast<int64_t>(usec) * 1000 <= jc.max_age) {
      // On the saved entry itself: it was delivered, the next read moves past it. Anywhere else
      // the saved entry is gone (vacuumed) and this one, the closest after it, was not read yet.
      have_current = sd_journal_test_cursor(journal, cursor.c_str()) <= 0;
      positioned = true;
    } else {
      spdlog::warn(
          "msg=\"saved journal cursor is older than max_age or gone; starting at max_age\" "
          "job=\"{}\"",
          source->job_name);
    }
  }
  if (!positioned) {
    int64_t since = std::max<int64_t>(0, WallNanos() - jc.max_age);
    r = sd_journal_seek_realtime_usec(journal, static_cast<uint64_t>(since / 1000));
    if (r < 0) return Status::IOError(fmt::format("seeking the journal: {}", std::strerror(-r)));
  }

  file = std::make_shared<TrackedFile>();
  file->id = ctx.next_file_id->fetch_add(1);
  file->path = key;
  file->journal = true;
  ctx.positions->Track(*file, 0, 0, cursor);
  sink = std::make_unique<LineSink>(ctx, file, source, std::map<std::string, std::string>{},
                                    std::vector<TimestampRun>{});
  relabel_dropped = ctx.metrics->dropped_lines->WithLabels({"relabel"});
  spdlog::info("msg=\"reading journal\" job=\"{}\" path=\"{}\" resume={}", source->job_name,
               jc.path.empty() ? "(system)" : jc.path, positioned ? "cursor" : "max_age");
  return Status::OK();
}

StreamLabelsPtr JournalReader::Impl::Labels(const std::map<std::string, std::string>& fields) {
  std::map<std::string, std::string> labels = JournalFieldLabels(fields);
  for (const auto& [k, v] : source->labels) labels[k] = v;
  if (!relabeler.Apply(&labels)) return nullptr;
  std::erase_if(labels, [](const auto& kv) { return kv.first.starts_with("__"); });
  if (labels.empty()) return nullptr;  // as Promtail: nothing to file the entry under
  for (const auto& [k, v] : ctx.config->client.external_labels) labels.try_emplace(k, v);
  std::string cache_key;
  for (const auto& [k, v] : labels) {
    cache_key += k;
    cache_key.push_back('\0');
    cache_key += v;
    cache_key.push_back('\0');
  }
  auto it = label_cache.find(cache_key);
  if (it != label_cache.end()) return it->second;
  if (label_cache.size() >= kMaxCachedLabelSets) label_cache.clear();
  return label_cache.emplace(std::move(cache_key), MakeStreamLabels(labels)).first->second;
}

bool JournalReader::Impl::Emit(std::string_view line, int64_t ts, std::string_view cursor,
                               StreamLabelsPtr labels) {
  const uint64_t max = ctx.config->limits.max_line_size;
  const uint64_t base = next_offset;
  const uint64_t end = base + line.size() + 1;
  next_offset = end;
  LineOut out;
  out.timestamp = ts;
  if (line.size() <= max) {
    out.line = line;
    out.start = base;
    out.end = end;
    out.cursor = cursor;
    return sink->Add(out, labels);
  }
  if (ctx.config->limits.max_line_size_mode == "truncate") {
    out.line = line.substr(0, Utf8Cut(line, max));
    out.start = base;
    out.end = end;
    out.truncated = true;
    out.cursor = cursor;
    return sink->Add(out, labels);
  }
  // Split: only the last piece carries the cursor, so a restart between pieces re-sends the entry.
  out.split = true;
  uint64_t pos = 0;
  while (line.size() - pos > max) {
    size_t cut = Utf8Cut(line.substr(pos), max);
    out.line = line.substr(pos, cut);
    out.start = base + pos;
    out.end = base + pos + cut;
    if (!sink->Add(out, labels)) return false;
    pos += cut;
  }
  out.line = line.substr(pos);
  out.start = base + pos;
  out.end = end;
  out.cursor = cursor;
  return sink->Add(out, labels);
}

bool JournalReader::Impl::Process() {
  uint64_t usec = 0;
  char* raw_cursor = nullptr;
  if (sd_journal_get_realtime_usec(journal, &usec) < 0 ||
      sd_journal_get_cursor(journal, &raw_cursor) < 0) {
    return true;  // an entry sd-journal cannot describe: nothing to ship or resume from
  }
  std::string cursor(raw_cursor);
  std::free(raw_cursor);
  std::map<std::string, std::string> fields;
  const void* data = nullptr;
  size_t len = 0;
  SD_JOURNAL_FOREACH_DATA(journal, data, len) {
    std::string_view d(static_cast<const char*>(data), len);
    size_t eq = d.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    fields.emplace(std::string(d.substr(0, eq)), std::string(d.substr(eq + 1)));
  }
  std::string json;
  std::string_view line;
  if (source->journal->json) {
    json.push_back('{');
    for (const auto& [name, value] : fields) {
      if (json.size() > 1) json.push_back(',');
      http::AppendJsonString(&json, name);
      json.push_back(':');
      http::AppendJsonString(&json, value);
    }
    json.push_back('}');
    line = json;
  } else {
    auto msg = fields.find("MESSAGE");
    if (msg == fields.end()) return true;  // as Promtail: an entry without MESSAGE has no line
    line = msg->second;
  }
  StreamLabelsPtr labels = Labels(fields);
  if (!labels) {
    relabel_dropped->Inc();
    return true;
  }
  return Emit(line, static_cast<int64_t>(usec) * 1000, cursor, std::move(labels));
}

JournalReader::JournalReader(ReaderContext ctx, const SourceConfig* source)
    : impl_(std::make_unique<Impl>(ctx, source)) {}

JournalReader::~JournalReader() = default;

Status JournalReader::Open() { return impl_->Open(); }

void JournalReader::Run() {
  Impl& d = *impl_;
  const int64_t poll = d.ctx.config->reader.poll_interval;
  while (!stop_) {
    int r = 1;
    if (d.have_current) {
      d.have_current = false;
    } else {
      r = sd_journal_next(d.journal);
    }
    if (r < 0) {
      spdlog::error("msg=\"reading the journal failed; retrying\" job=\"{}\" err=\"{}\"",
                    d.source->job_name, std::strerror(-r));
      std::this_thread::sleep_for(std::chrono::nanoseconds(poll));
      continue;
    }
    if (r == 0) {
      d.sink->Tick();
      sd_journal_wait(d.journal, static_cast<uint64_t>(poll / 1000));
      continue;
    }
    if (!d.Process()) break;
  }
  d.sink->FlushPending();
}

#else  // !SLUICE_HAVE_SYSTEMD

struct JournalReader::Impl {};

JournalReader::JournalReader(ReaderContext, const SourceConfig*) {}
JournalReader::~JournalReader() = default;
Status JournalReader::Open() {
  return Status::InvalidArgument("this sluice was built without libsystemd");
}
void JournalReader::Run() {}

#endif  // SLUICE_HAVE_SYSTEMD

}  // namespace sluice::agent
