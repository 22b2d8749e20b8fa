#pragma once

// The agent's configuration (`sluice agent -config.file=agent.yaml`). Every key, its default and
// the failure mode it guards against are listed in docs/agent.md. Durations are nanoseconds,
// sizes bytes. Loading rejects unknown keys, naming them, as the server's config does.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::agent {

inline constexpr int64_t kSecond = 1'000'000'000;
inline constexpr int64_t kMilli = 1'000'000;

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

Result<AgentConfig> ParseAgentConfigYaml(std::string_view yaml);
// `args` are the arguments after "agent": -config.file=F plus the flags listed in docs/agent.md.
Result<AgentConfig> LoadAgentConfig(const std::vector<std::string>& args);

}  // namespace sluice::agent
