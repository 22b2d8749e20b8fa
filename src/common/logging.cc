#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "common/duration.h"

namespace sluice {

namespace {

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string TimestampNow(const spdlog::details::log_msg& msg) {
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(msg.time.time_since_epoch()).count();
  return FormatRfc3339Nano(ns - ns % 1000);
}

const char* LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "debug";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "error";
    default:
      return "info";
  }
}

// Call sites normally write logfmt pairs; a plain sentence (from a library, or a terse call site)
// is wrapped as msg="..." so every line stays machine-readable.
bool IsLogfmt(std::string_view p) {
  size_t i = 0;
  while (i < p.size() && ((p[i] >= 'a' && p[i] <= 'z') || p[i] == '_')) ++i;
  return i > 0 && i < p.size() && p[i] == '=';
}

std::string QuotedMsg(std::string_view p) {
  std::string out = "msg=\"";
  for (char c : p) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c == '\n' ? ' ' : c);
  }
  return out + "\"";
}

// level=info ts=... msg="..." k=v
class LogfmtFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = fmt::format("level={} ts={} ", LevelName(msg.level), TimestampNow(msg));
    std::string_view payload(msg.payload.data(), msg.payload.size());
    if (IsLogfmt(payload)) {
      line.append(payload);
    } else {
      line += QuotedMsg(payload);
    }
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<formatter> clone() const override { return std::make_unique<LogfmtFormatter>(); }
};

// The same logfmt payload, re-encoded as one JSON object a line.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string out = "{\"level\":\"" + std::string(LevelName(msg.level)) + "\",\"ts\":\"" +
                      TimestampNow(msg) + "\"";
    std::string_view p(msg.payload.data(), msg.payload.size());
    if (!IsLogfmt(p)) {
      out += ",\"msg\":";
      AppendJsonString(&out, p);
      p = {};
    }
    size_t i = 0;
    while (i < p.size()) {
      while (i < p.size() && p[i] == ' ') ++i;
      size_t eq = p.find('=', i);
      if (eq == std::string_view::npos) {
        out += ",\"msg\":";
        AppendJsonString(&out, p.substr(i));
        break;
      }
      std::string_view key = p.substr(i, eq - i);
      std::string value;
      i = eq + 1;
      if (i < p.size() && p[i] == '"') {
        ++i;
        while (i < p.size() && p[i] != '"') {
          if (p[i] == '\\' && i + 1 < p.size()) ++i;
          value.push_back(p[i++]);
        }
        ++i;
      } else {
        size_t end = p.find(' ', i);
        if (end == std::string_view::npos) end = p.size();
        value = std::string(p.substr(i, end - i));
        i = end;
      }
      out += ",";
      AppendJsonString(&out, key);
      out += ":";
      AppendJsonString(&out, value);
    }
    out += "}\n";
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

Status SetupLogging(const std::string& level, const std::string& format) {
  spdlog::level::level_enum lvl;
  if (level == "debug") {
    lvl = spdlog::level::debug;
  } else if (level == "info") {
    lvl = spdlog::level::info;
  } else if (level == "warn") {
    lvl = spdlog::level::warn;
  } else if (level == "error") {
    lvl = spdlog::level::err;
  } else {
    return Status::InvalidArgument("log level \"" + level +
                                   "\" is not one of debug, info, warn, error");
  }
  auto logger =
      std::make_shared<spdlog::logger>("sluice", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<LogfmtFormatter>());
  }
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Status::OK();
}

}  // namespace sluice
