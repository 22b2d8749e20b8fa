#pragma once

// Internal to the template engine: Go text/template's lexer and parser (text/template/parse),
// producing the tree that exec.cc walks.
//
// Supported: text, actions with trim markers ({{- and -}}), comments {{/* */}}, pipelines,
// parenthesised pipelines, field chains (.a.b, $x.a, (pipe).a), variables ($x := / $x =, $),
// literals (strings, raw strings, chars, numbers in every Go base, true/false/nil), and
// {{if}} {{else if}} {{with}} {{else with}} {{range}} {{break}} {{continue}} {{define}}
// {{template}} {{block}}. Parse errors have Go's text: `template: line:1: function "x" not
// defined`.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "gotemplate/funcs.h"

namespace re2 {
class RE2;
}

namespace sluice::gotemplate::internal {

// Nesting of parentheses and control structures deeper than this is a parse error, so hostile
// templates cannot exhaust the stack while parsing or executing.
inline constexpr int kMaxParseDepth = 100;

struct Number {
  bool is_int = false;
  bool is_float = false;
  bool prefer_float = false;  // Go's idealConstant gives float64 (the text has . e or p)
  int64_t i = 0;
  double f = 0;
};

enum class ArgKind : uint8_t {
  kDot,
  kNil,
  kBool,
  kNumber,
  kString,
  kField,       // .a.b
  kVariable,    // $x.a.b
  kIdentifier,  // a function
  kPipe,        // (pipeline).a.b
};

struct Pipe;

struct Arg {
  ArgKind kind = ArgKind::kDot;
  uint32_t pos = 0;
  std::string_view src;             // the source text, for error messages
  bool b = false;                   // kBool
  Number num;                       // kNumber
  std::string str;                  // kString: the unquoted value
  Func func = Func::kAnd;           // kIdentifier
  int var = -1;                     // kVariable: slot in the template's frame
  std::vector<std::string> fields;  // kField, and fields after kVariable / kPipe
  std::unique_ptr<Pipe> pipe;       // kPipe
};

struct Command {
  std::vector<Arg> args;
  uint32_t pos = 0;
  std::string_view src;
  // The regex of regexReplaceAll/regexReplaceAllLiteral/count when it is a literal, compiled
  // once. Null if not a literal or if it does not compile (the error is then raised by
  // execution, as Loki does).
  std::shared_ptr<const re2::RE2> regex;
};

struct Pipe {
  std::vector<int> decl;  // variable slots declared or assigned
  bool is_assign = false;
  std::vector<Command> cmds;
  uint32_t pos = 0;
};

enum class NodeKind : uint8_t { kText, kAction, kIf, kRange, kWith, kTemplate, kBreak, kContinue };

struct Node {
  NodeKind kind = NodeKind::kText;
  uint32_t pos = 0;
  std::string text;            // kText; kTemplate: the template's name
  std::unique_ptr<Pipe> pipe;  // kAction, kIf, kRange, kWith, kTemplate (may be null)
  std::vector<Node> list;      // kIf, kRange, kWith
  std::vector<Node> else_list;
};

struct TemplateDef {
  std::string name;
  std::vector<Node> root;
  int num_vars = 1;  // slot 0 is $
};

struct Program {
  std::string source;
  std::string name;                    // "line" or "label", as in Loki's error messages
  std::vector<TemplateDef> templates;  // [0] is the main template
  // Indexes into templates, by name, for {{template}}.
  int Find(std::string_view name) const;
};

// Parses `source` (already stored in prog->source; node text views point into it).
Status Parse(Program* prog);

// 1-based line and 0-based byte column of a position, as Go's ErrorContext.
void LineCol(std::string_view source, uint32_t pos, int* line, int* col);

}  // namespace sluice::gotemplate::internal
