#include "logql/log/template_engine.h"

#include <optional>

#include "gotemplate/template.h"

namespace sluice::logql::log {

namespace {

// Loki renders `{{.name}}` (one action holding one single-identifier field) by copying the
// label; recognised here on the text, with Go's optional trim markers and spaces.
std::string SimpleFieldOf(std::string_view text) {
  std::string_view s = text;
  if (s.size() < 5 || s.substr(0, 2) != "{{" || s.substr(s.size() - 2) != "}}") return {};
  s = s.substr(2, s.size() - 4);
  if (s.size() >= 2 && s[0] == '-' && (s[1] == ' ' || s[1] == '\t' || s[1] == '\n'))
    s.remove_prefix(1);
  if (s.size() >= 2 && s.back() == '-' &&
      (s[s.size() - 2] == ' ' || s[s.size() - 2] == '\t' || s[s.size() - 2] == '\n')) {
    s.remove_suffix(1);
  }
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  if (s.size() < 2 || s[0] != '.') return {};
  s.remove_prefix(1);
  auto start = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!start(s[0])) return {};
  for (char c : s) {
    if (!start(c) && !(c >= '0' && c <= '9')) return {};
  }
  return std::string(s);
}

class EngineTemplate final : public CompiledTemplate {
 public:
  EngineTemplate(gotemplate::Template t, std::string simple)
      : t_(std::move(t)), simple_(std::move(simple)) {}

  Status Execute(const TemplateLabels& labels, std::string_view line, int64_t ts_nanos,
                 std::string* out) override {
    gotemplate::Context ctx;
    ctx.label = [&labels](std::string_view name) -> std::optional<std::string_view> {
      const std::string* v = labels.Get(name);
      if (v == nullptr) return std::nullopt;
      return std::string_view(*v);
    };
    ctx.line = line;
    ctx.timestamp_ns = ts_nanos;
    return t_.Execute(ctx, out);
  }
  std::string_view SimpleField() const override { return simple_; }

 private:
  gotemplate::Template t_;
  std::string simple_;
};

}  // namespace

bool TemplateEngineAvailable() { return true; }

Result<CompiledTemplatePtr> CompileTemplate(std::string_view text, std::string_view name) {
  SLUICE_ASSIGN_OR_RETURN(gotemplate::Template t, gotemplate::Template::Compile(text, name));
  return CompiledTemplatePtr(std::make_unique<EngineTemplate>(std::move(t), SimpleFieldOf(text)));
}

}  // namespace sluice::logql::log
