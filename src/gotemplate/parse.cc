#include "gotemplate/parse.h"

#include <re2/re2.h>

#include <cstdio>

#include "common/utf8.h"
#include "gocompat/number.h"
#include "gocompat/quote.h"
#include "gocompat/strings.h"
#include "gotemplate/gofmt.h"

namespace sluice::gotemplate::internal {

namespace {

enum class Tok : uint8_t {
  kText,
  kLeftDelim,
  kRightDelim,
  kSpace,
  kIdentifier,
  kField,
  kVariable,
  kString,
  kRawString,
  kCharConstant,
  kNumber,
  kBool,
  kNil,
  kDot,
  kPipe,
  kLeftParen,
  kRightParen,
  kAssign,
  kDeclare,
  kChar,
  kEOF,
  kError,
  // Keywords.
  kBlock,
  kBreak,
  kContinue,
  kDefine,
  kElse,
  kEnd,
  kIf,
  kRange,
  kTemplate,
  kWith,
};

struct Token {
  Tok tok;
  uint32_t pos;
  std::string_view val;  // kError: the message (in Lexer::errors_)
};

bool IsSpaceByte(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsAlnumAt(std::string_view s, size_t i, size_t* width) {
  char32_t r = DecodeRune(s, i, width);
  if (r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
    return true;
  }
  // Non-ASCII letters and digits; Unicode spaces and invalid bytes are not.
  return r >= 0x80 && !gocompat::IsSpace(r) && !(r == kRuneError && *width == 1) && r != 0x85;
}

// Go's %#U: U+0023 '#'.
std::string RuneDesc(std::string_view s, size_t i) {
  size_t w;
  char32_t r = DecodeRune(s, i, &w);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "U+%04X", static_cast<unsigned>(r));
  std::string out = buf;
  if (r >= 0x20 && r != 0x7F && !(r >= 0x80 && r < 0xA0)) {
    out += " '";
    AppendUtf8(&out, r);
    out += "'";
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> Run() {
    while (true) {
      size_t x = in_.find("{{", pos_);
      if (x == std::string_view::npos) {
        if (pos_ < in_.size()) Emit(Tok::kText, pos_, in_.size());
        Emit(Tok::kEOF, in_.size(), in_.size());
        break;
      }
      bool trim = x + 3 < in_.size() && in_[x + 2] == '-' && IsSpaceByte(in_[x + 3]);
      size_t text_end = x;
      if (trim) {
        while (text_end > pos_ && IsSpaceByte(in_[text_end - 1])) --text_end;
      }
      if (text_end > pos_) Emit(Tok::kText, pos_, text_end);
      pos_ = x + 2;
      size_t after = trim ? 2 : 0;
      if (in_.compare(pos_ + after, 2, "/*") == 0 && pos_ + after + 2 <= in_.size()) {
        if (!LexComment(after)) break;
        continue;
      }
      Emit(Tok::kLeftDelim, x, x + 2);
      pos_ += after;
      if (!LexInsideAction()) break;
    }
    return std::move(toks_);
  }

 private:
  void Emit(Tok t, size_t start, size_t end) {
    toks_.push_back(Token{t, static_cast<uint32_t>(start), in_.substr(start, end - start)});
  }
  bool Error(std::string msg) {
    errors_.push_back(std::move(msg));
    toks_.push_back(Token{Tok::kError, static_cast<uint32_t>(pos_), {}});
    error_ = errors_.back();
    return false;
  }

  // At "}}" or " -}}"? Sets *trim for the latter.
  bool AtRightDelim(bool* trim) const {
    *trim = pos_ + 4 <= in_.size() && IsSpaceByte(in_[pos_]) && in_[pos_ + 1] == '-' &&
            in_.compare(pos_ + 2, 2, "}}") == 0;
    return *trim || (pos_ + 2 <= in_.size() && in_.compare(pos_, 2, "}}") == 0);
  }

  void SkipRightDelim(bool trim) {
    if (trim) pos_ += 2;
    Emit(Tok::kRightDelim, pos_, pos_ + 2);
    pos_ += 2;
    if (trim) {
      while (pos_ < in_.size() && IsSpaceByte(in_[pos_])) ++pos_;
    }
  }

  bool LexComment(size_t after) {
    pos_ += after + 2;
    size_t x = in_.find("*/", pos_);
    if (x == std::string_view::npos) return Error("unclosed comment");
    pos_ = x + 2;
    bool trim;
    if (!AtRightDelim(&trim)) return Error("comment ends before closing delimiter");
    if (trim) pos_ += 2;
    pos_ += 2;
    if (trim) {
      while (pos_ < in_.size() && IsSpaceByte(in_[pos_])) ++pos_;
    }
    return true;
  }

  bool AtTerminator(size_t i) const {
    if (i >= in_.size()) return true;
    char c = in_[i];
    if (IsSpaceByte(c) || c == '.' || c == ',' || c == '|' || c == ':' || c == ')' || c == '(') {
      return true;
    }
    return in_.compare(i, 2, "}}") == 0;
  }

  // Consumes an identifier's characters from pos_; false (with an error) if a bad character
  // follows.
  bool ScanWord() {
    size_t w;
    while (pos_ < in_.size() && IsAlnumAt(in_, pos_, &w)) pos_ += w;
    if (!AtTerminator(pos_)) return Error("bad character " + RuneDesc(in_, pos_));
    return true;
  }

  bool Accept(std::string_view valid) {
    if (pos_ < in_.size() && valid.find(in_[pos_]) != std::string_view::npos) {
      ++pos_;
      return true;
    }
    return false;
  }
  void AcceptRun(std::string_view valid) {
    while (Accept(valid)) {
    }
  }

  bool ScanNumber() {
    Accept("+-");
    std::string_view digits = "0123456789_";
    if (Accept("0")) {
      if (Accept("xX")) {
        digits = "0123456789abcdefABCDEF_";
      } else if (Accept("oO")) {
        digits = "01234567_";
      } else if (Accept("bB")) {
        digits = "01_";
      }
    }
    AcceptRun(digits);
    if (Accept(".")) AcceptRun(digits);
    if (digits.size() == 11 && Accept("eE")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    if (digits.size() == 23 && Accept("pP")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    Accept("i");
    size_t w;
    if (pos_ < in_.size() && IsAlnumAt(in_, pos_, &w)) {
      pos_ += w;
      return false;
    }
    return true;
  }

  bool LexQuoted(char quote, Tok tok, const char* unterminated) {
    size_t start = pos_;
    ++pos_;
    while (true) {
      if (pos_ >= in_.size()) return Error(unterminated);
      char c = in_[pos_];
      if (c == '\\') {
        ++pos_;
        if (pos_ >= in_.size() || in_[pos_] == '\n') return Error(unterminated);
        ++pos_;
        continue;
      }
      if (c == '\n') return Error(unterminated);
      ++pos_;
      if (c == quote) break;
    }
    Emit(tok, start, pos_);
    return true;
  }

  bool LexInsideAction() {
    while (true) {
      bool trim;
      if (AtRightDelim(&trim)) {
        if (paren_ > 0) return Error("unclosed left paren");
        SkipRightDelim(trim);
        return true;
      }
      if (pos_ >= in_.size()) return Error("unclosed action");
      size_t start = pos_;
      char c = in_[pos_];
      if (IsSpaceByte(c)) {
        while (pos_ < in_.size() && IsSpaceByte(in_[pos_])) ++pos_;
        // The space before "-}}" belongs to the trim marker.
        if (in_.compare(pos_, 3, "-}}") == 0) {
          --pos_;
          if (pos_ == start) continue;
        }
        Emit(Tok::kSpace, start, pos_);
        continue;
      }
      switch (c) {
        case '=':
          ++pos_;
          Emit(Tok::kAssign, start, pos_);
          continue;
        case ':':
          if (pos_ + 1 >= in_.size() || in_[pos_ + 1] != '=') return Error("expected :=");
          pos_ += 2;
          Emit(Tok::kDeclare, start, pos_);
          continue;
        case '|':
          ++pos_;
          Emit(Tok::kPipe, start, pos_);
          continue;
        case '"':
          if (!LexQuoted('"', Tok::kString, "unterminated quoted string")) return false;
          continue;
        case '\'':
          if (!LexQuoted('\'', Tok::kCharConstant, "unterminated character constant")) {
            return false;
          }
          continue;
        case '`': {
          size_t x = in_.find('`', pos_ + 1);
          if (x == std::string_view::npos) return Error("unterminated raw quoted string");
          pos_ = x + 1;
          Emit(Tok::kRawString, start, pos_);
          continue;
        }
        case '$':
          ++pos_;
          if (!AtTerminator(pos_) && !ScanWord()) return false;
          Emit(Tok::kVariable, start, pos_);
          continue;
        case '(':
          ++pos_;
          ++paren_;
          Emit(Tok::kLeftParen, start, pos_);
          continue;
        case ')':
          ++pos_;
          if (--paren_ < 0) return Error("unexpected right paren");
          Emit(Tok::kRightParen, start, pos_);
          continue;
        default:
          break;
      }
      if (c == '.' && !(pos_ + 1 < in_.size() && in_[pos_ + 1] >= '0' && in_[pos_ + 1] <= '9')) {
        ++pos_;
        if (AtTerminator(pos_)) {
          Emit(Tok::kDot, start, pos_);
          continue;
        }
        if (!ScanWord()) return false;
        Emit(Tok::kField, start, pos_);
        continue;
      }
      if (c == '.' || c == '+' || c == '-' || (c >= '0' && c <= '9')) {
        if (!ScanNumber()) {
          return Error("bad number syntax: \"" + std::string(in_.substr(start, pos_ - start)) +
                       "\"");
        }
        if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) {
          // Go reads 1+2i as a complex constant; templates here have no complex numbers.
          ScanNumber();
          return Error("bad number syntax: \"" + std::string(in_.substr(start, pos_ - start)) +
                       "\"");
        }
        Emit(Tok::kNumber, start, pos_);
        continue;
      }
      size_t w;
      if (IsAlnumAt(in_, pos_, &w)) {
        if (!ScanWord()) return false;
        std::string_view word = in_.substr(start, pos_ - start);
        static constexpr std::pair<std::string_view, Tok> kKeywords[] = {
            {"block", Tok::kBlock},
            {"break", Tok::kBreak},
            {"continue", Tok::kContinue},
            {"define", Tok::kDefine},
            {"else", Tok::kElse},
            {"end", Tok::kEnd},
            {"if", Tok::kIf},
            {"range", Tok::kRange},
            {"nil", Tok::kNil},
            {"template", Tok::kTemplate},
            {"with", Tok::kWith},
        };
        Tok t = Tok::kIdentifier;
        for (const auto& [k, v] : kKeywords) {
          if (word == k) t = v;
        }
        if (word == "true" || word == "false") t = Tok::kBool;
        Emit(t, start, pos_);
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x80 && c >= 0x20 && c != 0x7F) {
        ++pos_;
        Emit(Tok::kChar, start, pos_);
        continue;
      }
      return Error("unrecognized character in action: " + RuneDesc(in_, pos_));
    }
  }

 public:
  std::vector<std::string> errors_;
  std::string error_;

 private:
  std::string_view in_;
  size_t pos_ = 0;
  int paren_ = 0;
  std::vector<Token> toks_;
};

// Thrown-free parse failure: every parse function returns false after setting err_.
class Parser {
 public:
  Parser(Program* prog, std::vector<Token> toks, std::string lex_error)
      : prog_(prog), toks_(std::move(toks)), lex_error_(std::move(lex_error)) {}

  Status Run() {
    prog_->templates.clear();
    prog_->templates.push_back(TemplateDef{prog_->name, {}, 1});
    cur_ = 0;
    vars_ = {{"$", 0}};
    while (Peek().tok != Tok::kEOF) {
      if (Peek().tok == Tok::kLeftDelim) {
        size_t save = i_;
        Next();
        if (NextNonSpace().tok == Tok::kDefine) {
          if (!ParseDefinition()) return Fail();
          continue;
        }
        i_ = save;
      }
      Node n;
      Tok end_tok;
      if (!TextOrAction(&n, &end_tok)) return Fail();
      if (end_tok != Tok::kEOF) {
        Error(end_tok == Tok::kEnd ? "unexpected {{end}}" : "unexpected {{else}}");
        return Fail();
      }
      prog_->templates[0].root.push_back(std::move(n));
    }
    return Status::OK();
  }

 private:
  Status Fail() { return Status::InvalidArgument(err_); }

  const Token& Peek() const { return toks_[i_]; }
  const Token& Next() {
    last_ = i_;
    const Token& t = toks_[i_];
    if (t.tok != Tok::kEOF && t.tok != Tok::kError) ++i_;
    return t;
  }
  const Token& NextNonSpace() {
    while (Peek().tok == Tok::kSpace) Next();
    return Next();
  }
  const Token& PeekNonSpace() {
    while (Peek().tok == Tok::kSpace) Next();
    return Peek();
  }
  void Backup() { i_ = last_; }

  int LineOf(uint32_t pos) const {
    int line, col;
    LineCol(prog_->source, pos, &line, &col);
    return line;
  }

  bool Error(const std::string& msg) {
    if (err_.empty()) {
      err_ =
          "template: " + prog_->name + ":" + std::to_string(LineOf(toks_[last_].pos)) + ": " + msg;
    }
    return false;
  }

  static std::string Describe(const Token& t) {
    switch (t.tok) {
      case Tok::kEOF:
        return "EOF";
      case Tok::kBlock:
      case Tok::kBreak:
      case Tok::kContinue:
      case Tok::kDefine:
      case Tok::kElse:
      case Tok::kEnd:
      case Tok::kIf:
      case Tok::kRange:
      case Tok::kTemplate:
      case Tok::kWith:
      case Tok::kNil:
      case Tok::kDot:
        return "<" + std::string(t.val) + ">";
      default:
        break;
    }
    std::string q;
    std::string_view v = t.val;
    bool cut = RuneCount(v) > 10;
    if (cut) {
      size_t i = 0;
      for (int n = 0, w = 0; n < 10; ++n, i += static_cast<size_t>(w)) {
        size_t ww;
        DecodeRune(v, i, &ww);
        w = static_cast<int>(ww);
      }
      v = v.substr(0, i);
    }
    q.push_back('"');
    for (char c : v) {
      if (c == '"' || c == '\\') q.push_back('\\');
      if (c == '\n') {
        q += "\\n";
        continue;
      }
      q.push_back(c);
    }
    q.push_back('"');
    if (cut) q += "...";
    return q;
  }

  bool Unexpected(const Token& t, std::string_view context) {
    if (t.tok == Tok::kError) return Error(lex_error_);
    return Error("unexpected " + Describe(t) + " in " + std::string(context));
  }

  bool Enter() {
    if (++depth_ > kMaxParseDepth) return Error("max expression depth exceeded");
    return true;
  }

  int NewVar(std::string_view name) {
    int slot = prog_->templates[cur_].num_vars++;
    vars_.emplace_back(std::string(name), slot);
    return slot;
  }

  // A template body up to {{end}} or {{else}} (reported through *end).
  bool ItemList(std::vector<Node>* list, Tok* end, uint32_t* end_pos) {
    while (PeekNonSpace().tok != Tok::kEOF) {
      if (Peek().tok == Tok::kError) return Unexpected(Next(), "input");
      Node n;
      Tok e;
      if (!TextOrAction(&n, &e)) return false;
      if (e == Tok::kEnd || e == Tok::kElse) {
        *end = e;
        *end_pos = n.pos;
        return true;
      }
      list->push_back(std::move(n));
    }
    Next();
    return Error("unexpected EOF");
  }

  // *end is kEnd/kElse when the action was {{end}}/{{else}}, else kEOF.
  bool TextOrAction(Node* n, Tok* end) {
    *end = Tok::kEOF;
    const Token& t = NextNonSpace();
    if (t.tok == Tok::kText) {
      n->kind = NodeKind::kText;
      n->pos = t.pos;
      n->text = std::string(t.val);
      return true;
    }
    if (t.tok == Tok::kLeftDelim) return Action(n, end);
    return Unexpected(t, "input");
  }

  bool Action(Node* n, Tok* end) {
    const Token& t = NextNonSpace();
    n->pos = t.pos;
    switch (t.tok) {
      case Tok::kBlock:
        return BlockControl(n);
      case Tok::kBreak:
      case Tok::kContinue: {
        bool brk = t.tok == Tok::kBreak;
        const Token& r = NextNonSpace();
        if (r.tok != Tok::kRightDelim) return Unexpected(r, brk ? "{{break}}" : "{{continue}}");
        if (range_depth_ == 0) {
          return Error(brk ? "{{break}} outside {{range}}" : "{{continue}} outside {{range}}");
        }
        n->kind = brk ? NodeKind::kBreak : NodeKind::kContinue;
        return true;
      }
      case Tok::kElse: {
        const Token& p = PeekNonSpace();
        if (p.tok == Tok::kIf || p.tok == Tok::kWith) {
          *end = Tok::kElse;  // "else if" / "else with": the if/with is left pending
          return true;
        }
        const Token& r = NextNonSpace();
        if (r.tok != Tok::kRightDelim) return Unexpected(r, "else");
        *end = Tok::kElse;
        return true;
      }
      case Tok::kEnd: {
        const Token& r = NextNonSpace();
        if (r.tok != Tok::kRightDelim) return Unexpected(r, "end");
        *end = Tok::kEnd;
        return true;
      }
      case Tok::kIf:
        return Control(n, NodeKind::kIf, "if");
      case Tok::kRange:
        return Control(n, NodeKind::kRange, "range");
      case Tok::kWith:
        return Control(n, NodeKind::kWith, "with");
      case Tok::kTemplate:
        return TemplateControl(n);
      default:
        break;
    }
    Backup();
    n->kind = NodeKind::kAction;
    n->pipe = std::make_unique<Pipe>();
    return ParsePipeline(n->pipe.get(), "command", Tok::kRightDelim);
  }

  bool Control(Node* n, NodeKind kind, std::string_view context) {
    if (!Enter()) return false;
    size_t vars_mark = vars_.size();
    n->kind = kind;
    n->pipe = std::make_unique<Pipe>();
    if (!ParsePipeline(n->pipe.get(), context, Tok::kRightDelim)) return false;
    if (kind == NodeKind::kRange) ++range_depth_;
    Tok end;
    uint32_t end_pos;
    if (!ItemList(&n->list, &end, &end_pos)) return false;
    if (kind == NodeKind::kRange) --range_depth_;
    if (end == Tok::kElse) {
      Tok chained = PeekNonSpace().tok;
      if ((kind == NodeKind::kIf && chained == Tok::kIf) ||
          (kind == NodeKind::kWith && chained == Tok::kWith)) {
        Next();
        Node inner;
        inner.pos = end_pos;
        if (!Control(&inner, kind, context)) return false;
        n->else_list.push_back(std::move(inner));
      } else {
        if (!ItemList(&n->else_list, &end, &end_pos)) return false;
        if (end != Tok::kEnd) return Error("expected end; found {{else}}");
      }
    }
    vars_.resize(vars_mark);
    --depth_;
    return true;
  }

  bool TemplateName(const Token& t, std::string_view context, std::string* name) {
    if (t.tok != Tok::kString && t.tok != Tok::kRawString) return Unexpected(t, context);
    auto s = gocompat::Unquote(t.val);
    if (!s) return Error("invalid syntax");
    *name = std::move(*s);
    return true;
  }

  bool TemplateControl(Node* n) {
    n->kind = NodeKind::kTemplate;
    if (!TemplateName(NextNonSpace(), "template clause", &n->text)) return false;
    if (NextNonSpace().tok != Tok::kRightDelim) {
      Backup();
      n->pipe = std::make_unique<Pipe>();
      if (!ParsePipeline(n->pipe.get(), "template clause", Tok::kRightDelim)) return false;
    }
    return true;
  }

  // Parses a template body into a new TemplateDef (for define and block).
  bool ParseBody(const std::string& name, std::string_view context) {
    if (!Enter()) return false;
    int saved_cur = cur_;
    auto saved_vars = std::move(vars_);
    int saved_range = range_depth_;
    range_depth_ = 0;
    vars_ = {{"$", 0}};
    prog_->templates.push_back(TemplateDef{name, {}, 1});
    cur_ = static_cast<int>(prog_->templates.size()) - 1;
    std::vector<Node> body;
    Tok end;
    uint32_t end_pos;
    if (!ItemList(&body, &end, &end_pos)) return false;
    if (end != Tok::kEnd) return Error("unexpected {{else}} in " + std::string(context));
    prog_->templates[static_cast<size_t>(cur_)].root = std::move(body);
    // Go's add(): an empty definition never replaces, a second non-empty one is an error.
    for (int k = 0; k < cur_; ++k) {
      TemplateDef& other = prog_->templates[static_cast<size_t>(k)];
      if (other.name != name) continue;
      TemplateDef& mine = prog_->templates[static_cast<size_t>(cur_)];
      if (IsEmpty(other.root)) {
        other.root = std::move(mine.root);
        other.num_vars = mine.num_vars;
      } else if (!IsEmpty(mine.root)) {
        return Error("template: multiple definition of template \"" + name + "\"");
      }
      prog_->templates.pop_back();
      break;
    }
    cur_ = saved_cur;
    vars_ = std::move(saved_vars);
    range_depth_ = saved_range;
    --depth_;
    return true;
  }

  static bool IsEmpty(const std::vector<Node>& nodes) {
    for (const Node& n : nodes) {
      if (n.kind != NodeKind::kText) return false;
      for (char c : n.text) {
        if (!IsSpaceByte(c)) return false;
      }
    }
    return true;
  }

  bool ParseDefinition() {
    std::string name;
    if (!TemplateName(NextNonSpace(), "define clause", &name)) return false;
    const Token& r = NextNonSpace();
    if (r.tok != Tok::kRightDelim) return Unexpected(r, "define clause");
    return ParseBody(name, "define clause");
  }

  bool BlockControl(Node* n) {
    n->kind = NodeKind::kTemplate;
    if (!TemplateName(NextNonSpace(), "block clause", &n->text)) return false;
    n->pipe = std::make_unique<Pipe>();
    if (!ParsePipeline(n->pipe.get(), "block clause", Tok::kRightDelim)) return false;
    return ParseBody(n->text, "block clause");
  }

  bool ParsePipeline(Pipe* pipe, std::string_view context, Tok end) {
    pipe->pos = PeekNonSpace().pos;
    // Declarations: $x := / $x = / $i, $e :=
    while (PeekNonSpace().tok == Tok::kVariable) {
      size_t at_var = i_;
      const Token& v = Next();
      std::string_view name = v.val;
      const Token& next = PeekNonSpace();
      if (next.tok == Tok::kAssign || next.tok == Tok::kDeclare) {
        pipe->is_assign = next.tok == Tok::kAssign;
        NextNonSpace();
        if (pipe->is_assign) {
          int slot = LookupVar(name);
          if (slot < 0) return Error("undefined variable \"" + std::string(name) + "\"");
          pipe->decl.push_back(slot);
        } else {
          pending_.push_back(name);
        }
        break;
      }
      if (next.tok == Tok::kChar && next.val == ",") {
        NextNonSpace();
        pending_.push_back(name);
        if (context == "range" && pending_.size() < 2) {
          Tok p = PeekNonSpace().tok;
          if (p == Tok::kVariable || p == Tok::kRightDelim || p == Tok::kRightParen) continue;
          return Error("range can only initialize variables");
        }
        return Error("too many declarations in " + std::string(context));
      }
      i_ = at_var;  // $x is an operand
      break;
    }
    // Declared variables are visible after the pipeline, not inside it.
    std::vector<std::string_view> decls = std::move(pending_);
    pending_.clear();
    while (true) {
      const Token& t = NextNonSpace();
      if (t.tok == end) {
        if (pipe->cmds.empty()) return Error("missing value for " + std::string(context));
        for (size_t k = 1; k < pipe->cmds.size(); ++k) {
          ArgKind a = pipe->cmds[k].args[0].kind;
          if (a == ArgKind::kBool || a == ArgKind::kDot || a == ArgKind::kNil ||
              a == ArgKind::kNumber || a == ArgKind::kString) {
            return Error("non executable command in pipeline stage " + std::to_string(k + 1));
          }
        }
        for (std::string_view d : decls) pipe->decl.push_back(NewVar(d));
        return true;
      }
      switch (t.tok) {
        case Tok::kBool:
        case Tok::kCharConstant:
        case Tok::kDot:
        case Tok::kField:
        case Tok::kIdentifier:
        case Tok::kNumber:
        case Tok::kNil:
        case Tok::kRawString:
        case Tok::kString:
        case Tok::kVariable:
        case Tok::kLeftParen: {
          Backup();
          Command cmd;
          if (!ParseCommand(&cmd)) return false;
          pipe->cmds.push_back(std::move(cmd));
          break;
        }
        default:
          return Unexpected(t, context);
      }
    }
  }

  int LookupVar(std::string_view name) const {
    for (size_t k = vars_.size(); k > 0; --k) {
      if (vars_[k - 1].first == name) return vars_[k - 1].second;
    }
    return -1;
  }

  bool ParseCommand(Command* cmd) {
    cmd->pos = PeekNonSpace().pos;
    uint32_t end_pos = cmd->pos;
    while (true) {
      PeekNonSpace();
      Arg arg;
      bool have = false;
      if (!Operand(&arg, &have)) return false;
      if (have) {
        end_pos = static_cast<uint32_t>(arg.src.data() - prog_->source.data() + arg.src.size());
        cmd->args.push_back(std::move(arg));
      }
      const Token& t = Next();
      if (t.tok == Tok::kSpace) continue;
      if (t.tok == Tok::kRightDelim || t.tok == Tok::kRightParen) {
        Backup();
      } else if (t.tok == Tok::kPipe) {
        // A trailing "|" before the delimiter is accepted, as Go does.
      } else {
        return Unexpected(t, "operand");
      }
      break;
    }
    if (cmd->args.empty()) return Error("empty command");
    cmd->src = std::string_view(prog_->source).substr(cmd->pos, end_pos - cmd->pos);
    PrecompileRegex(cmd);
    return true;
  }

  static void PrecompileRegex(Command* cmd) {
    const Arg& f = cmd->args[0];
    if (f.kind != ArgKind::kIdentifier || cmd->args.size() < 2 ||
        cmd->args[1].kind != ArgKind::kString) {
      return;
    }
    if (f.func != Func::kRegexReplaceAll && f.func != Func::kRegexReplaceAllLiteral &&
        f.func != Func::kCount) {
      return;
    }
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<RE2>(cmd->args[1].str, opts);
    if (re->ok()) cmd->regex = std::move(re);
  }

  std::string_view SrcFrom(uint32_t start) const {
    const Token& t = toks_[last_];
    size_t end = t.pos + t.val.size();
    return std::string_view(prog_->source).substr(start, end - start);
  }

  bool Operand(Arg* arg, bool* have) {
    if (!Term(arg, have)) return false;
    if (!*have) return true;
    if (Peek().tok == Tok::kField) {
      switch (arg->kind) {
        case ArgKind::kBool:
        case ArgKind::kString:
        case ArgKind::kNumber:
        case ArgKind::kNil:
        case ArgKind::kDot: {
          std::string q;
          gocompat::AppendQuoted(arg->src, false, &q);
          return Error("unexpected . after term " + q);
        }
        case ArgKind::kIdentifier:
          // Go keeps a chain on a function's result; calling it first is done by exec.
        default:
          break;
      }
      std::string_view fn_src = arg->src;
      while (Peek().tok == Tok::kField) {
        const Token& f = Next();
        arg->fields.emplace_back(f.val.substr(1));
      }
      arg->src = SrcFrom(arg->pos);
      if (arg->kind == ArgKind::kIdentifier) {
        // (fn).x: wrap the call in a pipe so that exec chains the fields on its value.
        auto p = std::make_unique<Pipe>();
        p->pos = arg->pos;
        Command c;
        c.pos = arg->pos;
        Arg fn;
        fn.kind = ArgKind::kIdentifier;
        fn.func = arg->func;
        fn.pos = arg->pos;
        fn.src = fn_src;
        c.src = fn.src;
        c.args.push_back(std::move(fn));
        p->cmds.push_back(std::move(c));
        arg->kind = ArgKind::kPipe;
        arg->pipe = std::move(p);
      }
    }
    return true;
  }

  bool Term(Arg* arg, bool* have) {
    *have = true;
    const Token& t = NextNonSpace();
    arg->pos = t.pos;
    arg->src = t.val;
    switch (t.tok) {
      case Tok::kIdentifier: {
        const FuncSig* f = LookupFunc(t.val);
        if (f == nullptr) return Error("function \"" + std::string(t.val) + "\" not defined");
        arg->kind = ArgKind::kIdentifier;
        arg->func = f->id;
        return true;
      }
      case Tok::kDot:
        arg->kind = ArgKind::kDot;
        return true;
      case Tok::kNil:
        arg->kind = ArgKind::kNil;
        return true;
      case Tok::kVariable: {
        // $x.y.z arrives as one token when there are no spaces: split the fields off.
        std::string_view v = t.val;
        size_t dot = v.find('.', 1);
        std::string_view name = v.substr(0, dot);
        int slot = LookupVar(name);
        if (slot < 0) return Error("undefined variable \"" + std::string(name) + "\"");
        arg->kind = ArgKind::kVariable;
        arg->var = slot;
        return true;
      }
      case Tok::kField: {
        arg->kind = ArgKind::kField;
        arg->fields.emplace_back(t.val.substr(1));
        return true;
      }
      case Tok::kBool:
        arg->kind = ArgKind::kBool;
        arg->b = t.val == "true";
        return true;
      case Tok::kCharConstant: {
        std::string_view body = t.val.substr(1);
        char32_t r;
        bool mb;
        if (!gocompat::UnquoteChar(&body, '\'', &r, &mb)) return Error("invalid syntax");
        if (body != "'") return Error("malformed character constant: " + std::string(t.val));
        arg->kind = ArgKind::kNumber;
        arg->num.is_int = arg->num.is_float = true;
        arg->num.i = static_cast<int64_t>(r);
        arg->num.f = static_cast<double>(r);
        return true;
      }
      case Tok::kNumber:
        arg->kind = ArgKind::kNumber;
        return ParseNumber(t.val, &arg->num);
      case Tok::kLeftParen: {
        if (!Enter()) return false;
        arg->kind = ArgKind::kPipe;
        arg->pipe = std::make_unique<Pipe>();
        if (!ParsePipeline(arg->pipe.get(), "parenthesized pipeline", Tok::kRightParen)) {
          return false;
        }
        --depth_;
        arg->src = SrcFrom(arg->pos);
        return true;
      }
      case Tok::kString:
      case Tok::kRawString: {
        auto s = gocompat::Unquote(t.val);
        if (!s) return Error("invalid syntax");
        arg->kind = ArgKind::kString;
        arg->str = std::move(*s);
        return true;
      }
      default:
        Backup();
        *have = false;
        return true;
    }
  }

  bool ParseNumber(std::string_view text, Number* n) {
    if (!text.empty() && text.back() == 'i') {
      return Error("illegal number syntax: \"" + std::string(text) + "\"");
    }
    uint64_t u;
    const bool u_ok = gocompat::ParseUint(text, 0, &u) == gocompat::NumError::kNone;
    int64_t i;
    if (gocompat::ParseInt(text, 0, &i) == gocompat::NumError::kNone) {
      n->is_int = true;
      n->i = i;
    }
    if (n->is_int) {
      n->is_float = true;
      n->f = static_cast<double>(n->i);
    } else if (u_ok) {
      // Too large for int64: only usable as a float.
      n->is_float = true;
      n->f = static_cast<double>(u);
    } else {
      double f;
      if (gocompat::ParseFloat(text, &f) == gocompat::NumError::kNone) {
        if (text.find_first_of(".eEpP") == std::string_view::npos) {
          return Error("integer overflow: \"" + std::string(text) + "\"");
        }
        n->is_float = true;
        n->f = f;
        if (f >= -9.2233720368547758e18 && f < 9.2233720368547758e18 &&
            static_cast<double>(static_cast<int64_t>(f)) == f) {
          n->is_int = true;
          n->i = static_cast<int64_t>(f);
        }
      }
    }
    if (!n->is_int && !n->is_float) {
      return Error("illegal number syntax: \"" + std::string(text) + "\"");
    }
    // Go's idealConstant: a float64 when the text looks like one (not hex or a rune).
    bool hex_int = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') &&
                   text.find_first_of("pP") == std::string_view::npos;
    n->prefer_float =
        n->is_float && !hex_int && text.find_first_of(".eEpP") != std::string_view::npos;
    if (!n->is_int) n->prefer_float = true;
    return true;
  }

  Program* prog_;
  std::vector<Token> toks_;
  std::string lex_error_;
  size_t i_ = 0;
  size_t last_ = 0;
  std::string err_;
  int cur_ = 0;
  int depth_ = 0;
  int range_depth_ = 0;
  std::vector<std::pair<std::string, int>> vars_;
  std::vector<std::string_view> pending_;
};

}  // namespace

int Program::Find(std::string_view n) const {
  for (size_t k = 0; k < templates.size(); ++k) {
    if (templates[k].name == n) return static_cast<int>(k);
  }
  return -1;
}

void LineCol(std::string_view source, uint32_t pos, int* line, int* col) {
  if (pos > source.size()) pos = static_cast<uint32_t>(source.size());
  *line = 1;
  size_t line_start = 0;
  for (size_t k = 0; k < pos; ++k) {
    if (source[k] == '\n') {
      ++*line;
      line_start = k + 1;
    }
  }
  *col = static_cast<int>(pos - line_start);
}

Status Parse(Program* prog) {
  Lexer lexer(prog->source);
  std::vector<Token> toks = lexer.Run();
  Parser parser(prog, std::move(toks), lexer.error_);
  return parser.Run();
}

}  // namespace sluice::gotemplate::internal
