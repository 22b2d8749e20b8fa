#pragma once

// The agent's configuration (`sluice agent -config.file=agent.yaml`). Every key, its default and
// the failure mode it guards against are listed in docs/agent.md. Durations are nanoseconds,
// sizes bytes. Loading rejects unknown keys, naming them, as the server's config does.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::agent {

inline constexpr int64_t kSecond = 1'000'000'000;
inline constexpr int64_t kMilli = 1'000'000;

// One Prometheus relabeling rule, the subset Promtail's journal users write (`__journal_*` labels
// into stream labels). Actions: replace (default), keep, drop, labelmap, labeldrop.
struct RelabelRule {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string target_label;
  std::string regex = "(.*)";  // RE2, anchored at both ends as in Prometheus
  std::string replacement = "$1";
  std::string action = "replace";
};

// Promtail's `journal` scrape config: reads systemd journal files through sd-journal.
struct JournalConfig {
  std::string path;  // a directory of journal files; empty = the local system journal
  int64_t max_age = 7 * 3600 * kSecond;  // with no saved cursor (or an older one): start here
  bool json = false;                     // line = every field as a JSON object instead of MESSAGE
  std::string matches;  // "FIELD=value FIELD=value": only matching entries (sd_journal_add_match)
};

// Promtail's `multiline` stage: joins a first line and the lines after it into one entry.
struct MultilineConfig {
  std::string firstline;                // RE2; a line matching it starts a new block
  int64_t max_wait_time = 3 * kSecond;  // a block with no new line for this long is sent
  int max_lines = 128;                  // a block is sent once it has this many lines
};

struct SourceConfig {
  std::string job_name;
  std::vector<std::string> files;    // glob patterns
  std::vector<std::string> exclude;  // glob patterns matched against the same paths
  bool stdin_source = false;         // YAML key: stdin
  std::map<std::string, std::string> labels;
  // RE2 with named groups matched against the file path; each group becomes a label.
  std::string path_regex;
  bool filename_label = true;  // add filename="<path>"
  // Add level="<value>" from logfmt `level=x` or JSON `"level":"x"` in the line (for shedding).
  bool detect_level = false;
  // YAML `journal:`; set for a journal source (instead of files or stdin).
  std::optional<JournalConfig> journal;
  std::vector<RelabelRule> relabel_configs;  // journal sources only
  // YAML `pipeline_stages: [{multiline: {...}}]`; files and stdin only.
  std::optional<MultilineConfig> multiline;
};

// A line matches a rule when every label in `labels` equals the line's stream label and, when
// set, the line contains `line_contains`.
struct ShedRule {
  std::map<std::string, std::string> labels;
  std::string line_contains;
};

struct AgentConfig {
  struct Server {
    std::string http_listen_address = "127.0.0.1";
    int http_listen_port = 9080;  // 0 = pick a free port; -1 = no /metrics server
    std::string log_level = "info";
    std::string log_format = "logfmt";
  } server;

  struct Client {
    std::string url = "http://127.0.0.1:3100/loki/api/v1/push";
    std::string tenant_id;
    std::string bearer_token;
    std::string bearer_token_file;
    struct BasicAuth {
      std::string username;
      std::string password;
      std::string password_file;
    } basic_auth;
    struct Tls {
      std::string ca_file;
      std::string cert_file;
      std::string key_file;
      bool insecure_skip_verify = false;
    } tls;
    std::string encoding = "protobuf";  // protobuf (snappy) | json
    std::string compression = "none";   // none | gzip (Content-Encoding of the body)
    int64_t timeout = 10 * kSecond;     // per push attempt
    int max_inflight = 4;               // concurrent pushes
    uint64_t batch_size = 1 << 20;      // raw line bytes per push
    int64_t batch_wait = 1 * kSecond;   // oldest line waits at most this long
    struct Backoff {
      int64_t min_period = 500 * kMilli;
      int64_t max_period = 5 * 60 * kSecond;
      int max_retries = 0;  // 0 = retry until delivered
      int64_t max_retry_after = 5 * 60 * kSecond;
    } backoff;
    struct Breaker {
      int failure_threshold = 5;
      int64_t open_duration = 10 * kSecond;
    } breaker;
    std::map<std::string, std::string> external_labels;
  } client;

  struct Positions {
    std::string filename = "./sluice-agent-positions";
    int64_t sync_period = 1 * kSecond;
    bool fsync = true;
  } positions;

  struct Limits {
    uint64_t memory_limit = 64ull << 20;  // buffered line bytes: queue + batches + bodies
    uint64_t max_line_size = 256ull << 10;
    std::string max_line_size_mode = "split";  // split | truncate
  } limits;

  struct Reader {
    int64_t poll_interval = 250 * kMilli;  // how often idle files are checked for appends
    int64_t scan_period = 5 * kSecond;     // how often globs are expanded for new files
  } reader;

  struct Shedding {
    double threshold = 0.8;  // fraction of memory_limit in use at which rules start dropping
    std::vector<ShedRule> rules;
  } shedding;

  int64_t shutdown_timeout = 10 * kSecond;
  std::vector<SourceConfig> scrape_configs;

  // Checks values and fills derived defaults.
  Status Finalize();
};

// Splits journal.matches ("FIELD=value FIELD=value") into its terms, checking each.
Result<std::vector<std::string>> ParseJournalMatches(std::string_view matches);

Result<AgentConfig> ParseAgentConfigYaml(std::string_view yaml);
// `args` are the arguments after "agent": -config.file=F plus the flags listed in docs/agent.md.
Result<AgentConfig> LoadAgentConfig(const std::vector<std::string>& args);

}  // namespace sluice::agent
