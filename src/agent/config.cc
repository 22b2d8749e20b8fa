#include "agent/config.h"

#include <fmt/format.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "common/duration.h"

namespace sluice::agent {

namespace {

// Reads one YAML mapping, remembering each key asked for so that the others can be reported as
// unknown. The first error wins and is kept in *status; later calls do nothing.
class MapReader {
 public:
  MapReader(YAML::Node node, std::string path, Status* status)
      : node_(std::move(node)), path_(std::move(path)), status_(status) {
    if (status_->ok() && node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
      *status_ = Status::InvalidArgument(fmt::format("{}: expected a mapping", Where()));
    }
  }

  void String(const char* key, std::string* out) {
    auto n = Scalar(key);
    if (n.IsDefined() && !n.IsNull()) *out = n.Scalar();
  }
  void Bool(const char* key, bool* out) {
    auto n = Scalar(key);
    if (n.IsNull()) return;
    const std::string& s = n.Scalar();
    if (s == "true") {
      *out = true;
    } else if (s == "false") {
      *out = false;
    } else {
      Fail(key, fmt::format("cannot parse \"{}\" as a boolean", s));
    }
  }
  void Int(const char* key, int* out) {
    auto n = Scalar(key);
    if (n.IsNull()) return;
    try {
      size_t used = 0;
      long v = std::stol(n.Scalar(), &used);
      if (used != n.Scalar().size()) throw std::invalid_argument("trailing");
      *out = static_cast<int>(v);
    } catch (const std::exception&) {
      Fail(key, fmt::format("cannot parse \"{}\" as an integer", n.Scalar()));
    }
  }
  void Double(const char* key, double* out) {
    auto n = Scalar(key);
    if (n.IsNull()) return;
    try {
      size_t used = 0;
      *out = std::stod(n.Scalar(), &used);
      if (used != n.Scalar().size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      Fail(key, fmt::format("cannot parse \"{}\" as a number", n.Scalar()));
    }
  }
  void Duration(const char* key, int64_t* out) {
    auto n = Scalar(key);
    if (n.IsNull()) return;
    auto d = ParseDuration(n.Scalar());
    if (!d.ok()) return Fail(key, d.status().message());
    *out = *d;
  }
  void Bytes(const char* key, uint64_t* out) {
    auto n = Scalar(key);
    if (n.IsNull()) return;
    auto b = ParseByteSize(n.Scalar());
    if (!b.ok()) return Fail(key, b.status().message());
    *out = *b;
  }
  void StringMap(const char* key, std::map<std::string, std::string>* out) {
    YAML::Node n = Node(key);
    if (n.IsNull()) return;
    if (!n.IsMap()) return Fail(key, "expected a mapping of names to values");
    for (const auto& kv : n) {
      if (!kv.second.IsScalar()) return Fail(key, "label values must be strings");
      (*out)[kv.first.as<std::string>()] = kv.second.Scalar();
    }
  }
  void StringList(const char* key, std::vector<std::string>* out) {
    YAML::Node n = Node(key);
    if (n.IsNull()) return;
    if (n.IsScalar()) {
      out->push_back(n.Scalar());
      return;
    }
    if (!n.IsSequence()) return Fail(key, "expected a list of strings");
    for (const auto& item : n) {
      if (!item.IsScalar()) return Fail(key, "expected a list of strings");
      out->push_back(item.Scalar());
    }
  }
  // A nested mapping or list; the caller reads it with its own MapReader.
  YAML::Node Node(const char* key) {
    known_.insert(key);
    if (!status_->ok() || !node_.IsDefined() || !node_.IsMap()) return YAML::Node();
    const YAML::Node& map = node_;  // const lookup: a missing key must not be inserted
    YAML::Node n = map[key];
    return n.IsDefined() ? n : YAML::Node();
  }
  // Whether the key is present, also with an empty value (`journal:` alone turns the journal on).
  bool Has(const char* key) const {
    if (!node_.IsDefined() || !node_.IsMap()) return false;
    const YAML::Node& map = node_;
    return map[key].IsDefined();
  }
  std::string Child(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  void Finish() {
    if (!status_->ok() || !node_.IsDefined() || !node_.IsMap()) return;
    for (const auto& kv : node_) {
      auto key = kv.first.as<std::string>();
      if (!known_.contains(key)) {
        *status_ = Status::InvalidArgument(
            fmt::format("unknown configuration key \"{}\" in {}", key, Where()));
        return;
      }
    }
  }

 private:
  YAML::Node Scalar(const char* key) {
    YAML::Node n = Node(key);
    if (n.IsNull()) return YAML::Node();
    if (!n.IsScalar()) {
      Fail(key, "expected a single value");
      return YAML::Node();
    }
    return n;
  }
  void Fail(const char* key, std::string_view msg) {
    if (status_->ok()) *status_ = Status::InvalidArgument(fmt::format("{}: {}", Child(key), msg));
  }
  std::string Where() const { return path_.empty() ? "the top level" : "section " + path_; }

  YAML::Node node_;
  std::string path_;
  Status* status_;
  std::set<std::string> known_;
};

// A YAML list whose items are read by `read_item(node, "path[i]")`.
template <typename Fn>
void ReadList(YAML::Node list, const std::string& path, Status* st, Fn read_item) {
  if (!st->ok() || list.IsNull()) return;
  if (!list.IsSequence()) {
    *st = Status::InvalidArgument(fmt::format("{}: expected a list", path));
    return;
  }
  for (size_t i = 0; i < list.size() && st->ok(); ++i) {
    read_item(list[i], fmt::format("{}[{}]", path, i));
  }
}

void ReadSource(YAML::Node node, const std::string& path, Status* st, SourceConfig* s) {
  MapReader r(node, path, st);
  r.String("job_name", &s->job_name);
  r.StringList("files", &s->files);
  r.StringList("exclude", &s->exclude);
  r.Bool("stdin", &s->stdin_source);
  r.StringMap("labels", &s->labels);
  r.String("path_regex", &s->path_regex);
  r.Bool("filename_label", &s->filename_label);
  r.Bool("detect_level", &s->detect_level);
  YAML::Node journal = r.Node("journal");
  if (st->ok() && r.Has("journal")) {
    JournalConfig j;
    MapReader jr(journal, r.Child("journal"), st);
    jr.String("path", &j.path);
    jr.Duration("max_age", &j.max_age);
    jr.Bool("json", &j.json);
    jr.String("matches", &j.matches);
    jr.StringMap("labels", &s->labels);  // where Promtail puts a journal's static labels
    jr.Finish();
    s->journal = std::move(j);
  }
  ReadList(r.Node("relabel_configs"), r.Child("relabel_configs"), st,
           [&](YAML::Node n, const std::string& p) {
             RelabelRule rule;
             MapReader rr(n, p, st);
             rr.StringList("source_labels", &rule.source_labels);
             rr.String("separator", &rule.separator);
             rr.String("target_label", &rule.target_label);
             rr.String("regex", &rule.regex);
             rr.String("replacement", &rule.replacement);
             rr.String("action", &rule.action);
             rr.Finish();
             s->relabel_configs.push_back(std::move(rule));
           });
  ReadList(
      r.Node("pipeline_stages"), r.Child("pipeline_stages"), st,
      [&](YAML::Node n, const std::string& p) {
        MapReader stage(n, p, st);
        YAML::Node ml = stage.Node("multiline");
        stage.Finish();  // any other stage is an unknown key, named in the error
        if (!st->ok()) return;
        if (!ml.IsDefined()) {
          *st = Status::InvalidArgument(
              fmt::format("{}: expected a stage such as multiline: {{...}}", p));
          return;
        }
        if (s->multiline) {
          *st = Status::InvalidArgument(fmt::format("{}: only one multiline stage per source", p));
          return;
        }
        MultilineConfig m;
        MapReader mr(ml, p + ".multiline", st);
        mr.String("firstline", &m.firstline);
        mr.Duration("max_wait_time", &m.max_wait_time);
        mr.Int("max_lines", &m.max_lines);
        mr.Finish();
        s->multiline = std::move(m);
      });
  r.Finish();
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

void ReadConfig(YAML::Node root, Status* st, AgentConfig* c) {
  MapReader top(root, "", st);
  {
    MapReader r(top.Node("server"), "server", st);
    r.String("http_listen_address", &c->server.http_listen_address);
    r.Int("http_listen_port", &c->server.http_listen_port);
    r.String("log_level", &c->server.log_level);
    r.String("log_format", &c->server.log_format);
    r.Finish();
  }
  {
    auto& cl = c->client;
    MapReader r(top.Node("client"), "client", st);
    r.String("url", &cl.url);
    r.String("tenant_id", &cl.tenant_id);
    r.String("bearer_token", &cl.bearer_token);
    r.String("bearer_token_file", &cl.bearer_token_file);
    {
      MapReader b(r.Node("basic_auth"), "client.basic_auth", st);
      b.String("username", &cl.basic_auth.username);
      b.String("password", &cl.basic_auth.password);
      b.String("password_file", &cl.basic_auth.password_file);
      b.Finish();
    }
    {
      MapReader t(r.Node("tls_config"), "client.tls_config", st);
      t.String("ca_file", &cl.tls.ca_file);
      t.String("cert_file", &cl.tls.cert_file);
      t.String("key_file", &cl.tls.key_file);
      t.Bool("insecure_skip_verify", &cl.tls.insecure_skip_verify);
      t.Finish();
    }
    r.String("encoding", &cl.encoding);
    r.String("compression", &cl.compression);
    r.Duration("timeout", &cl.timeout);
    r.Int("max_inflight", &cl.max_inflight);
    r.Bytes("batch_size", &cl.batch_size);
    r.Duration("batch_wait", &cl.batch_wait);
    {
      MapReader b(r.Node("backoff_config"), "client.backoff_config", st);
      b.Duration("min_period", &cl.backoff.min_period);
      b.Duration("max_period", &cl.backoff.max_period);
      b.Int("max_retries", &cl.backoff.max_retries);
      b.Duration("max_retry_after", &cl.backoff.max_retry_after);
      b.Finish();
    }
    {
      MapReader b(r.Node("breaker"), "client.breaker", st);
      b.Int("failure_threshold", &cl.breaker.failure_threshold);
      b.Duration("open_duration", &cl.breaker.open_duration);
      b.Finish();
    }
    r.StringMap("external_labels", &cl.external_labels);
    r.Finish();
  }
  {
    MapReader r(top.Node("positions"), "positions", st);
    r.String("filename", &c->positions.filename);
    r.Duration("sync_period", &c->positions.sync_period);
    r.Bool("fsync", &c->positions.fsync);
    r.Finish();
  }
  {
    MapReader r(top.Node("limits"), "limits", st);
    r.Bytes("memory_limit", &c->limits.memory_limit);
    r.Bytes("max_line_size", &c->limits.max_line_size);
    r.String("max_line_size_mode", &c->limits.max_line_size_mode);
    r.Finish();
  }
  {
    MapReader r(top.Node("reader"), "reader", st);
    r.Duration("poll_interval", &c->reader.poll_interval);
    r.Duration("scan_period", &c->reader.scan_period);
    r.Finish();
  }
  {
    MapReader r(top.Node("shedding"), "shedding", st);
    r.Double("threshold", &c->shedding.threshold);
    YAML::Node rules = r.Node("rules");
    if (st->ok() && !rules.IsNull()) {
      if (!rules.IsSequence()) {
        *st = Status::InvalidArgument("shedding.rules: expected a list");
      } else {
        for (size_t i = 0; i < rules.size() && st->ok(); ++i) {
          ShedRule rule;
          MapReader rr(rules[i], fmt::format("shedding.rules[{}]", i), st);
          rr.StringMap("labels", &rule.labels);
          rr.String("line_contains", &rule.line_contains);
          rr.Finish();
          c->shedding.rules.push_back(std::move(rule));
        }
      }
    }
    r.Finish();
  }
  top.Duration("shutdown_timeout", &c->shutdown_timeout);
  YAML::Node sources = top.Node("scrape_configs");
  if (st->ok() && !sources.IsNull()) {
    if (!sources.IsSequence()) {
      *st = Status::InvalidArgument("scrape_configs: expected a list");
    } else {
      for (size_t i = 0; i < sources.size() && st->ok(); ++i) {
        SourceConfig s;
        ReadSource(sources[i], fmt::format("scrape_configs[{}]", i), st, &s);
        c->scrape_configs.push_back(std::move(s));
      }
    }
  }
  top.Finish();
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
    return Status::InvalidArgument(fmt::format("client.url: \"{}\" is not an http(s) URL", client.url));
  }
  if (client.encoding != "protobuf" && client.encoding != "json") {
    return Status::InvalidArgument(
        fmt::format("client.encoding: \"{}\" is not protobuf or json", client.encoding));
  }
  if (client.compression != "none" && client.compression != "gzip") {
    return Status::InvalidArgument(
        fmt::format("client.compression: \"{}\" is not none or gzip", client.compression));
  }
  if (client.max_inflight < 1) return Status::InvalidArgument("client.max_inflight must be at least 1");
  if (client.timeout <= 0) return Status::InvalidArgument("client.timeout must be positive");
  if (client.batch_size < 1024) return Status::InvalidArgument("client.batch_size must be at least 1KB");
  if (client.batch_wait <= 0) return Status::InvalidArgument("client.batch_wait must be positive");
  if (client.backoff.min_period <= 0 || client.backoff.max_period < client.backoff.min_period) {
    return Status::InvalidArgument("client.backoff_config: need 0 < min_period <= max_period");
  }
  if (client.backoff.max_retries < 0) return Status::InvalidArgument("client.backoff_config.max_retries must be >= 0");
  if (client.breaker.failure_threshold < 1) {
    return Status::InvalidArgument("client.breaker.failure_threshold must be at least 1");
  }
  if (client.breaker.open_duration <= 0) return Status::InvalidArgument("client.breaker.open_duration must be positive");
  if (limits.max_line_size < 16) return Status::InvalidArgument("limits.max_line_size must be at least 16B");
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
  if (positions.filename.empty()) return Status::InvalidArgument("positions.filename must not be empty");
  if (positions.sync_period <= 0) return Status::InvalidArgument("positions.sync_period must be positive");
  if (reader.poll_interval <= 0 || reader.scan_period <= 0) {
    return Status::InvalidArgument("reader.poll_interval and reader.scan_period must be positive");
  }
  if (server.log_format != "logfmt" && server.log_format != "json") {
    return Status::InvalidArgument("server.log_format must be logfmt or json");
  }
  if (scrape_configs.empty()) return Status::InvalidArgument("scrape_configs: no sources configured");
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
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(fmt::format("invalid YAML: {}", e.what()));
  }
  AgentConfig config;
  if (root.IsNull()) return config;
  if (!root.IsMap()) return Status::InvalidArgument("configuration must be a YAML mapping");
  Status st;
  ReadConfig(root, &st, &config);
  SLUICE_RETURN_IF_ERROR(st);
  return config;
}

Result<AgentConfig> LoadAgentConfig(const std::vector<std::string>& args) {
  std::string file;
  std::vector<std::pair<std::string, std::string>> flags;
  for (const auto& raw : args) {
    std::string arg = raw;
    if (arg.rfind("--", 0) == 0) arg = arg.substr(1);
    if (arg.size() < 2 || arg[0] != '-') {
      return Status::InvalidArgument(fmt::format("unexpected argument \"{}\"", raw));
    }
    size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(fmt::format("flag {} needs a value (-name=value)", raw));
    }
    std::string name = arg.substr(1, eq - 1);
    std::replace(name.begin(), name.end(), '-', '_');
    std::string value = arg.substr(eq + 1);
    if (name == "config.file") {
      file = value;
    } else {
      flags.emplace_back(name, value);
    }
  }
  if (file.empty()) return Status::InvalidArgument("-config.file is required");
  SLUICE_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  auto parsed = ParseAgentConfigYaml(text);
  if (!parsed.ok()) return Status::InvalidArgument(fmt::format("{}: {}", file, parsed.status().message()));
  AgentConfig config = std::move(parsed).value();
  for (const auto& [name, value] : flags) {
    if (name == "log.level" || name == "server.log_level") {
      config.server.log_level = value;
    } else if (name == "log.format" || name == "server.log_format") {
      config.server.log_format = value;
    } else if (name == "client.url") {
      config.client.url = value;
    } else if (name == "client.tenant_id") {
      config.client.tenant_id = value;
    } else if (name == "positions.filename") {
      config.positions.filename = value;
    } else if (name == "server.http_listen_port") {
      try {
        config.server.http_listen_port = std::stoi(value);
      } catch (const std::exception&) {
        return Status::InvalidArgument(fmt::format("-{}: cannot parse \"{}\"", name, value));
      }
    } else {
      return Status::InvalidArgument(fmt::format("unknown flag -{}", name));
    }
  }
  SLUICE_RETURN_IF_ERROR(config.Finalize());
  return config;
}

}  // namespace sluice::agent
