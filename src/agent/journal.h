#pragma once

// The systemd journal source (Promtail's `journal` scrape config), through libsystemd's
// sd-journal: one thread per source follows the journal files of `journal.path` (or the local
// system journal) and queues each entry as a line.
//
//   line       MESSAGE, or with `json: true` every field as one JSON object (names as written)
//   timestamp  the entry's realtime timestamp, so a re-sent entry is an exact duplicate
//   labels     the source's static labels and relabel_configs over `__journal_<field>` labels
//              (field names lower-cased, plus `__journal_priority_keyword`); labels starting with
//              "__" are dropped after relabeling, and an entry left without labels is dropped
//   position   the cursor of the last acknowledged entry, saved in the positions file under
//              "journal-<job_name>"; a restart resumes right after it, unless that entry is older
//              than max_age (or gone), in which case reading starts at now - max_age, as with no
//              saved cursor
//
// Built only with libsystemd (SLUICE_HAVE_SYSTEMD); AgentConfig::Finalize rejects journal sources
// otherwise.

#include <atomic>
#include <memory>

#include "agent/reader.h"
#include "common/status.h"

namespace sluice::agent {

class JournalReader {
 public:
  JournalReader(ReaderContext ctx, const SourceConfig* source);
  ~JournalReader();

  // Opens the journal and seeks to where reading starts. Call before Run.
  Status Open();
  // Reads entries until Stop(), waiting up to reader.poll_interval for new ones when idle.
  void Run();
  void Stop() { stop_ = true; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_{false};
};

// The `__journal_*` labels Promtail derives from an entry's fields.
std::map<std::string, std::string> JournalFieldLabels(
    const std::map<std::string, std::string>& fields);

}  // namespace sluice::agent
