#include "agent/config.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <fstream>
#include <set>
#include <sstream>

#include "common/duration.h"
#include "config/loader.h"

namespace sluice::agent {

namespace {

using config::BytesField;
using config::DurationField;

template <typename V>
void VisitRelabel(RelabelRule& rule, V& v) {
  v.Field("source_labels", rule.source_labels);
  v.Field("separator", rule.separator);
  v.Field("target_label", rule.target_label);
  v.Field("regex", rule.regex);
  v.Field("replacement", rule.replacement);
  v.Field("action", rule.action);
}

// One element of `pipeline_stages`; multiline is the only stage the agent runs.
struct PipelineStage {
  std::optional<MultilineConfig> multiline;
};

template <typename V>
void VisitSource(SourceConfig& s, V& v) {
  v.Field("job_name", s.job_name);
  v.Field("files", s.files);
  v.Field("exclude", s.exclude);
  v.Field("stdin", s.stdin_source);
  v.Field("labels", s.labels);
  v.Field("path_regex", s.path_regex);
  v.Field("filename_label", s.filename_label);
  v.Field("detect_level", s.detect_level);
  // `journal:` alone turns the journal on with every default.
  v.OptionalSection("journal", s.journal, [&](JournalConfig& j) {
    v.Field("path", j.path);
    v.Field("max_age", DurationField{&j.max_age});
    v.Field("json", j.json);
    v.Field("matches", j.matches);
    v.Field("labels", s.labels);  // where Promtail puts a journal's static labels
  });
  v.List("relabel_configs", s.relabel_configs, [&](RelabelRule& rule) { VisitRelabel(rule, v); });
  std::vector<PipelineStage> stages;  // read into s.multiline, one stage at a time
  v.List("pipeline_stages", stages, [&](PipelineStage& stage) {
    v.OptionalSection("multiline", stage.multiline, [&](MultilineConfig& m) {
      v.Field("firstline", m.firstline);
      v.Field("max_wait_time", DurationField{&m.max_wait_time});
      v.Field("max_lines", m.max_lines);
    });
    if (!stage.multiline) {
      return Status::InvalidArgument("expected a stage such as multiline: {...}");
    }
    if (s.multiline) return Status::InvalidArgument("only one multiline stage per source");
    s.multiline = stage.multiline;
    return Status::OK();
  });
}

// Every key of the agent's YAML, as config/loader.h walks it: the same rules as the server's.
template <typename V>
void VisitAgentConfig(AgentConfig& c, V& v) {
  v.Section("server", [&] {
    v.Field("http_listen_address", c.server.http_listen_address);
    v.Field("http_listen_port", c.server.http_listen_port);
    v.Field("log_level", c.server.log_level);
    v.Field("log_format", c.server.log_format);
  });
  v.Section("client", [&] {
    auto& cl = c.client;
    v.Field("url", cl.url);
    v.Field("tenant_id", cl.tenant_id);
    v.Field("bearer_token", cl.bearer_token);
    v.Field("bearer_token_file", cl.bearer_token_file);
    v.Section("basic_auth", [&] {
      v.Field("username", cl.basic_auth.username);
      v.Field("password", cl.basic_auth.password);
      v.Field("password_file", cl.basic_auth.password_file);
    });
    v.Section("tls_config", [&] {
      v.Field("ca_file", cl.tls.ca_file);
      v.Field("cert_file", cl.tls.cert_file);
      v.Field("key_file", cl.tls.key_file);
      v.Field("insecure_skip_verify", cl.tls.insecure_skip_verify);
    });
    v.Field("encoding", cl.encoding);
    v.Field("compression", cl.compression);
    v.Field("timeout", DurationField{&cl.timeout});
    v.Field("max_inflight", cl.max_inflight);
    v.Field("batch_size", BytesField{&cl.batch_size});
    v.Field("batch_wait", DurationField{&cl.batch_wait});
    v.Section("backoff_config", [&] {
      v.Field("min_period", DurationField{&cl.backoff.min_period});
      v.Field("max_period", DurationField{&cl.backoff.max_period});
      v.Field("max_retries", cl.backoff.max_retries);
      v.Field("max_retry_after", DurationField{&cl.backoff.max_retry_after});
    });
    v.Section("breaker", [&] {
      v.Field("failure_threshold", cl.breaker.failure_threshold);
      v.Field("open_duration", DurationField{&cl.breaker.open_duration});
    });
    v.Field("external_labels", cl.external_labels);
  });
  v.Section("positions", [&] {
    v.Field("filename", c.positions.filename);
    v.Field("sync_period", DurationField{&c.positions.sync_period});
    v.Field("fsync", c.positions.fsync);
  });
  v.Section("limits", [&] {
    v.Field("memory_limit", BytesField{&c.limits.memory_limit});
    v.Field("max_line_size", BytesField{&c.limits.max_line_size});
    v.Field("max_line_size_mode", c.limits.max_line_size_mode);
  });
  v.Section("reader", [&] {
    v.Field("poll_interval", DurationField{&c.reader.poll_interval});
    v.Field("scan_period", DurationField{&c.reader.scan_period});
  });
  v.Section("shedding", [&] {
    v.Field("threshold", c.shedding.threshold);
    v.List("rules", c.shedding.rules, [&](ShedRule& rule) {
      v.Field("labels", rule.labels);
      v.Field("line_contains", rule.line_contains);
    });
  });
  v.Field("shutdown_timeout", DurationField{&c.shutdown_timeout});
  v.List("scrape_configs", c.scrape_configs, [&](SourceConfig& s) { VisitSource(s, v); });
}

Status ValidateRelabel(const RelabelRule& rule, const std::string& where) {
  static const std::set<std::string> kActions = {"replace", "keep", "drop", "labelmap",
                                                 "labeldrop"};
  if (!kActions.contains(rule.action)) {
    return Status::InvalidArgument(
        fmt::format("{}.action: \"{}\" is not supported (replace, keep, drop, labelmap, labeldrop)",
                    where, rule.action));
  }
  RE2 re(rule.regex, RE2::Quiet);
  if (!re.ok()) return Status::InvalidArgument(fmt::format("{}.regex: {}", where, re.error()));
  if (rule.action == "replace" && rule.target_label.empty()) {
    return Status::InvalidArgument(fmt::format("{}: action replace needs target_label", where));
  }
  if ((rule.action == "replace" || rule.action == "keep" || rule.action == "drop") &&
      rule.source_labels.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: action {} needs source_labels", where, rule.action));
  }
  return Status::OK();
}

Status ValidateSource(SourceConfig& s, size_t i) {
  const std::string where = fmt::format("scrape_configs[{}]", i);
  int kinds = (s.stdin_source ? 1 : 0) + (s.files.empty() ? 0 : 1) + (s.journal ? 1 : 0);
  if (kinds != 1) {
    return Status::InvalidArgument(
        fmt::format("{}: set exactly one of files, stdin or journal", where));
  }
  if (!s.path_regex.empty()) {
    RE2 re(s.path_regex, RE2::Quiet);
    if (!re.ok()) {
      return Status::InvalidArgument(fmt::format("{}.path_regex: {}", where, re.error()));
    }
  }
  if (s.journal) {
#ifndef SLUICE_HAVE_SYSTEMD
    return Status::InvalidArgument(fmt::format(
        "{}.journal: this sluice was built without libsystemd (install libsystemd-dev and rebuild)",
        where));
#endif
    if (s.journal->max_age <= 0) {
      return Status::InvalidArgument(fmt::format("{}.journal.max_age must be positive", where));
    }
    if (s.detect_level) {
      return Status::InvalidArgument(
          fmt::format("{}: detect_level is for files and stdin; for the journal, relabel "
                      "__journal_priority_keyword to level",
                      where));
    }
    if (s.multiline) {
      return Status::InvalidArgument(fmt::format("{}: multiline is for files and stdin", where));
    }
    auto matches = ParseJournalMatches(s.journal->matches);
    if (!matches.ok()) {
      return Status::InvalidArgument(
          fmt::format("{}.journal.matches: {}", where, matches.status().message()));
    }
  } else if (!s.relabel_configs.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: relabel_configs is supported for journal sources only", where));
  }
  for (size_t k = 0; k < s.relabel_configs.size(); ++k) {
    SLUICE_RETURN_IF_ERROR(
        ValidateRelabel(s.relabel_configs[k], fmt::format("{}.relabel_configs[{}]", where, k)));
  }
  if (s.multiline) {
    const std::string mw = where + ".pipeline_stages.multiline";
    if (s.multiline->firstline.empty()) {
      return Status::InvalidArgument(
          fmt::format("{}: firstline (a regular expression) is required", mw));
    }
    RE2 re(s.multiline->firstline, RE2::Quiet);
    if (!re.ok()) return Status::InvalidArgument(fmt::format("{}.firstline: {}", mw, re.error()));
    if (s.multiline->max_wait_time <= 0) {
      return Status::InvalidArgument(fmt::format("{}.max_wait_time must be positive", mw));
    }
    if (s.multiline->max_lines < 1) {
      return Status::InvalidArgument(fmt::format("{}.max_lines must be at least 1", mw));
    }
  }
  if (s.job_name.empty()) s.job_name = fmt::format("source{}", i);
  return Status::OK();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(fmt::format("cannot read {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TrimNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<std::vector<std::string>> ParseJournalMatches(std::string_view matches) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < matches.size()) {
    size_t end = matches.find(' ', pos);
    if (end == std::string_view::npos) end = matches.size();
    std::string_view term = matches.substr(pos, end - pos);
    pos = end + 1;
    if (term.empty()) continue;
    size_t eq = term.find('=');
    bool name_ok = eq != std::string_view::npos && eq > 0;
    for (size_t i = 0; name_ok && i < eq; ++i) {
      char c = term[i];
      name_ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (!name_ok) {
      return Status::InvalidArgument(fmt::format(
          "\"{}\" is not FIELD=value (field names are upper-case letters, digits and _)", term));
    }
    out.emplace_back(term);
  }
  return out;
}

Status AgentConfig::Finalize() {
  if (client.url.rfind("http://", 0) != 0 && client.url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument(
        fmt::format("client.url: \"{}\" is not an http(s) URL", client.url));
  }
  if (client.encoding != "protobuf" && client.encoding != "json") {
    return Status::InvalidArgument(
        fmt::format("client.encoding: \"{}\" is not protobuf or json", client.encoding));
  }
  if (client.compression != "none" && client.compression != "gzip") {
    return Status::InvalidArgument(
        fmt::format("client.compression: \"{}\" is not none or gzip", client.compression));
  }
  if (client.max_inflight < 1)
    return Status::InvalidArgument("client.max_inflight must be at least 1");
  if (client.timeout <= 0) return Status::InvalidArgument("client.timeout must be positive");
  if (client.batch_size < 1024)
    return Status::InvalidArgument("client.batch_size must be at least 1KB");
  if (client.batch_wait <= 0) return Status::InvalidArgument("client.batch_wait must be positive");
  if (client.backoff.min_period <= 0 || client.backoff.max_period < client.backoff.min_period) {
    return Status::InvalidArgument("client.backoff_config: need 0 < min_period <= max_period");
  }
  if (client.backoff.max_retries < 0)
    return Status::InvalidArgument("client.backoff_config.max_retries must be >= 0");
  if (client.breaker.failure_threshold < 1) {
    return Status::InvalidArgument("client.breaker.failure_threshold must be at least 1");
  }
  if (client.breaker.open_duration <= 0)
    return Status::InvalidArgument("client.breaker.open_duration must be positive");
  if (limits.max_line_size < 16)
    return Status::InvalidArgument("limits.max_line_size must be at least 16B");
  if (limits.max_line_size_mode != "split" && limits.max_line_size_mode != "truncate") {
    return Status::InvalidArgument(fmt::format(
        "limits.max_line_size_mode: \"{}\" is not split or truncate", limits.max_line_size_mode));
  }
  // One batch being built, one being encoded and max_inflight bodies must fit, with room for
  // the queue: below this the agent could not make progress at all.
  uint64_t floor = (static_cast<uint64_t>(client.max_inflight) + 3) * client.batch_size +
                   2 * limits.max_line_size;
  if (limits.memory_limit < floor) {
    return Status::InvalidArgument(fmt::format(
        "limits.memory_limit {} is too small: it must hold (max_inflight + 3) x batch_size + "
        "2 x max_line_size = {}",
        FormatByteSize(limits.memory_limit), FormatByteSize(floor)));
  }
  if (!(shedding.threshold > 0 && shedding.threshold <= 1)) {
    return Status::InvalidArgument("shedding.threshold must be in (0, 1]");
  }
  if (positions.filename.empty())
    return Status::InvalidArgument("positions.filename must not be empty");
  if (positions.sync_period <= 0)
    return Status::InvalidArgument("positions.sync_period must be positive");
  if (reader.poll_interval <= 0 || reader.scan_period <= 0) {
    return Status::InvalidArgument("reader.poll_interval and reader.scan_period must be positive");
  }
  if (server.log_format != "logfmt" && server.log_format != "json") {
    return Status::InvalidArgument("server.log_format must be logfmt or json");
  }
  if (scrape_configs.empty())
    return Status::InvalidArgument("scrape_configs: no sources configured");
  int stdin_sources = 0;
  std::set<std::string> journal_jobs;
  for (size_t i = 0; i < scrape_configs.size(); ++i) {
    auto& s = scrape_configs[i];
    if (s.stdin_source) ++stdin_sources;
    SLUICE_RETURN_IF_ERROR(ValidateSource(s, i));
    // The saved cursor is keyed by job_name, as Promtail keys it.
    if (s.journal && !journal_jobs.insert(s.job_name).second) {
      return Status::InvalidArgument(fmt::format(
          "scrape_configs[{}]: job_name \"{}\" is used by another journal source", i, s.job_name));
    }
  }
  if (stdin_sources > 1) return Status::InvalidArgument("scrape_configs: at most one stdin source");
  if (!client.bearer_token_file.empty()) {
    SLUICE_ASSIGN_OR_RETURN(std::string token, ReadFile(client.bearer_token_file));
    client.bearer_token = TrimNewlines(std::move(token));
  }
  if (!client.basic_auth.password_file.empty()) {
    SLUICE_ASSIGN_OR_RETURN(std::string pw, ReadFile(client.basic_auth.password_file));
    client.basic_auth.password = TrimNewlines(std::move(pw));
  }
  if (!client.bearer_token.empty() && !client.basic_auth.username.empty()) {
    return Status::InvalidArgument("client: set bearer_token or basic_auth, not both");
  }
  return Status::OK();
}

Result<AgentConfig> ParseAgentConfigYaml(std::string_view yaml) {
  AgentConfig config;
  SLUICE_RETURN_IF_ERROR(config::LoadYamlInto(yaml, [&](auto& v) { VisitAgentConfig(config, v); }));
  return config;
}

Result<AgentConfig> LoadAgentConfig(const std::vector<std::string>& args) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<config::Flag> flags, config::ParseFlags(args));
  std::string file = config::TakeFlag(flags, "config.file");
  if (file.empty()) return Status::InvalidArgument("-config.file is required");
  SLUICE_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  auto parsed = ParseAgentConfigYaml(text);
  if (!parsed.ok()) {
    return Status::InvalidArgument(fmt::format("{}: {}", file, parsed.status().message()));
  }
  AgentConfig config = std::move(parsed).value();
  static constexpr config::FlagAlias kAliases[] = {
      {"log.level", "server.log_level"},
      {"log.format", "server.log_format"},
  };
  SLUICE_RETURN_IF_ERROR(
      config::ApplyFlags(flags, kAliases, [&](auto& v) { VisitAgentConfig(config, v); }));
  SLUICE_RETURN_IF_ERROR(config.Finalize());
  return config;
}

}  // namespace sluice::agent
