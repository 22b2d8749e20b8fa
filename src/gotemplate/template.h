#pragma once

// Go text/template, as LogQL's `line_format` and `label_format` use it.
//
//   auto t = tmpl::Template::Compile(R"({{ .level | upper }} {{ __line__ | trunc 20 }})");
//   if (!t.ok()) return t.status();            // "template: line:1: function "x" not defined"
//   tmpl::Context ctx{lookup, line, ts};
//   std::string out;
//   if (Status st = t->Execute(ctx, &out); !st.ok()) { /* __error__=TemplateFormatErr */ }
//
// Semantics follow Go's text/template with Loki's setup (pkg/logql/log/fmt.go):
// - The data (`.` and `$`) is the entry's labels, as a map[string]string with
//   missingkey=zero: `.missing` is "", never an error.
// - `__line__` and `__timestamp__` are functions returning the line (string) and the entry's
//   time (time.Time, printed and formatted in UTC, which is Loki's "Local" in its containers).
// - The functions are Go's builtins and exactly the ones Loki registers (see funcs.h), with
//   Go's argument checking: `repeat (add 1 2) "x"` fails as in Loki because add returns int64.
// - Syntax errors, unknown functions and undefined variables fail Compile with Go's message
//   ("template: line:1: ..."); Loki's stages prefix "invalid line template: " or
//   "invalid template for label 'x': " themselves.
// - Runtime errors (wrong argument types, a failing function) fail Execute with Go's message
//   ("template: line:1:5: executing "line" at <.a.b>: can't evaluate field b in type string");
//   Loki then keeps the entry and sets __error__=TemplateFormatErr, __error_details__=message.
//
// Differences from Go, all on inputs that are rare in log queries:
// - `.` itself (the whole label map) cannot be printed, ranged over or measured with len, since
//   Context only looks labels up by name; `index . "name"` and `.name` work.
// - `now` has no monotonic clock reading (Go's String() prints " m=+0.000012" after it).
// - Case mapping (lower, upper, title, ToLower, ToUpper) covers ASCII, Latin-1, Latin
//   Extended-A, Greek and Cyrillic; other scripts pass through unchanged.
// - Execution is bounded: at most kMaxOutputBytes of output and kMaxSteps evaluation steps
//   (Go has no limit; a hostile `range 1000000000` would otherwise pin a querier).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sluice::gotemplate {

namespace internal {
struct Program;
}

// What a template reads while it runs. Everything it points at must stay valid during Execute.
struct Context {
  // `.name` lookups: the label's value, or nullopt when absent (which renders as "").
  // The returned view must stay valid until Execute returns.
  std::function<std::optional<std::string_view>(std::string_view)> label;
  std::string_view line;     // __line__
  int64_t timestamp_ns = 0;  // __timestamp__, Unix nanoseconds
  // The clock `now` reads; null means the system clock.
  const Clock* clock = nullptr;
};

class Template {
 public:
  static constexpr size_t kMaxOutputBytes = 16 << 20;
  static constexpr int64_t kMaxSteps = 1'000'000;

  // Parses `text`. `name` is the template's name in messages: Loki uses "line" for line_format
  // and "label" for label_format. InvalidArgument with Go's message on syntax errors, unknown
  // functions, undefined variables and nesting deeper than 100.
  static Result<Template> Compile(std::string_view text, std::string_view name = "line");

  // Runs the template, replacing *out. On error *out holds partial output and the Status
  // (InvalidArgument) has Go's runtime message. Const and thread-safe: a Template may be
  // shared by threads, each with its own Context and output.
  Status Execute(const Context& ctx, std::string* out) const;

  // The label names the template reads (`.name`, `.name.x`), deduplicated, in order of first
  // use, as Loki's RequiredLabelNames. Lets callers extract only the fields a template needs.
  std::vector<std::string> ReferencedLabels() const;

  // The template text.
  const std::string& source() const;

 private:
  // A template that only concatenates text, labels (`{{.a}}`) and the line (`{{__line__}}`)
  // runs without the tree walker and without allocating beyond *out.
  struct Segment {
    enum class Kind : uint8_t { kText, kLabel, kLine } kind;
    std::string value;  // text, or label name
  };

  explicit Template(std::shared_ptr<const internal::Program> prog) : prog_(std::move(prog)) {}

  std::shared_ptr<const internal::Program> prog_;  // immutable, shared by copies
  std::vector<Segment> fast_;                      // when non-empty: the fast path
  bool use_fast_ = false;
};

}  // namespace sluice::gotemplate
