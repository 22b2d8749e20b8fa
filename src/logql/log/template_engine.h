#pragma once

// The seam between the formatting stages and the Go text/template engine (template/): the
// stages only see this interface, and template_engine.cc adapts gotemplate::Template to it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::logql::log {

// The labels a template reads as `.name`. nullptr when absent (Loki's missingkey=zero: "").
class TemplateLabels {
 public:
  virtual ~TemplateLabels() = default;
  virtual const std::string* Get(std::string_view name) const = 0;
};

// A compiled template. Execute() is called by one thread at a time (the pipeline's).
class CompiledTemplate {
 public:
  virtual ~CompiledTemplate() = default;
  // Appends the rendering to *out. An error (Go's exec error text) leaves *out unspecified.
  virtual Status Execute(const TemplateLabels& labels, std::string_view line, int64_t ts_nanos,
                         std::string* out) = 0;
  // The field name when the template is exactly `{{.name}}` (Loki renders those without the
  // engine), else empty.
  virtual std::string_view SimpleField() const = 0;
};
using CompiledTemplatePtr = std::unique_ptr<CompiledTemplate>;

// Parses a template with Loki's functions (`__line__`, `__timestamp__`, sprig's ...). `name` is
// the template's name in Go's messages: "line" for line_format, "label" for label_format.
// InvalidArgument with Go's parse error text, or "template engine not available" when no
// engine is linked.
Result<CompiledTemplatePtr> CompileTemplate(std::string_view text, std::string_view name);
// Whether CompileTemplate can succeed at all.
bool TemplateEngineAvailable();

}  // namespace sluice::logql::log
