#include "logql/log/parsers.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/utf8.h"
#include "logql/log/json_scan.h"
#include "logql/log/logfmt.h"
#include "logql/log/pattern.h"
#include "model/labels.h"

namespace sluice::logql::log {

namespace {

using json::ValueType;

// Objects nested deeper than this are not flattened by `json`. Loki recurses without bound (Go
// stacks grow); here a hostile line must neither exhaust the stack nor, since each level scans
// its value to find its end as jsonparser does, cost more than 64 passes over the line.
constexpr int kMaxJsonDepth = 64;

// The name a parser sets for `name`: `_extracted` appended when the stream has that label.
void ResolveCollision(const LabelsBuilder& lbs, std::string* name) {
  if (lbs.BaseHas(*name)) name->append(kDuplicateSuffix);
}

// Whether Go would see utf8.RuneError in `s`: an invalid byte or U+FFFD.
bool HasRuneError(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0 || (n == 3 && s.substr(i, 3) == "\xEF\xBF\xBD")) return true;
    i += n;
  }
  return false;
}

// bytes.Map(removeInvalidUtf, s): each RuneError (invalid byte or U+FFFD) becomes a space.
void AppendReplacingRuneErrors(std::string_view s, std::string* out) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      out->push_back(s[i++]);
      continue;
    }
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out->push_back(' ');
      ++i;
    } else if (n == 3 && s.substr(i, 3) == "\xEF\xBF\xBD") {
      out->push_back(' ');
      i += 3;
    } else {
      out->append(s.substr(i, n));
      i += n;
    }
  }
}

// A parser's hints, with the decision for top-level keys remembered per key position: the
// lines of a stream mostly repeat their keys in the same order, so one memcmp replaces
// sanitizing the key and looking its name up.
class HintedKeys {
 public:
  explicit HintedKeys(ParserHints hints) : hints_(std::move(hints)) {}

  const ParserHints& hints() const { return hints_; }

  // Whether to set the label of the top-level key `key`, the `position`-th of its line.
  bool ShouldExtract(size_t position, std::string_view key) {
    if (hints_.all()) return true;
    if (position >= slots_.size()) slots_.resize(position + 1);
    Slot& slot = slots_[position];
    if (!slot.valid || slot.key != key) {
      slot.key.assign(key);
      name_.clear();
      AppendSanitizedLabelName(key, true, &name_);
      slot.extract = !name_.empty() && hints_.ShouldExtract(name_);
      slot.valid = true;
    }
    return slot.extract;
  }

 private:
  struct Slot {
    std::string key;
    bool extract = false;
    bool valid = false;
  };
  ParserHints hints_;
  std::vector<Slot> slots_;
  std::string name_;
};

// --- json (no parameters) --------------------------------------------------------------------

class JsonParser final : public Stage {
 public:
  explicit JsonParser(ParserHints hints, JsonPaths* paths = nullptr)
      : keys_(std::move(hints)), paths_(paths) {}

  bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
    lbs_ = lbs;
    prefix_.clear();
    if (paths_ != nullptr) {
      paths_->clear();
      raw_keys_.clear();
    }
    top_level_keys_ = 0;
    if (const char* err = ParseObject(*line, 0, true)) {
      lbs->SetErr(kErrJson);
      lbs->SetErrorDetails(err);
    }
    return true;
  }

 private:
  // With `extract` false the object is only read for its errors: no hinted label lies below
  // prefix_.
  const char* ParseObject(std::string_view obj, int depth, bool extract) {
    return json::ObjectEach(
        obj, &key_buf_,
        [&](std::string_view key, std::string_view value, ValueType type) -> const char* {
          switch (type) {
            case ValueType::kString:
            case ValueType::kNumber:
            case ValueType::kBoolean:
              if (!extract) return nullptr;
              if (depth == 0 && !keys_.ShouldExtract(top_level_keys_++, key)) return nullptr;
              SetLabel(key, value, type);
              return nullptr;
            case ValueType::kObject: {
              if (depth >= kMaxJsonDepth) return nullptr;
              if (!extract) return ParseObject(value, depth + 1, false);
              const size_t prefix_len = prefix_.size();
              if (!prefix_.empty()) prefix_.push_back('_');
              AppendSanitizedLabelName(key, prefix_len == 0, &prefix_);
              // Copied: the nested ObjectEach reuses key_buf_, which `key` may point into.
              if (paths_ != nullptr) raw_keys_.emplace_back(key);
              const char* err =
                  ParseObject(value, depth + 1, keys_.hints().ShouldExtractPrefix(prefix_));
              prefix_.resize(prefix_len);
              if (paths_ != nullptr) raw_keys_.pop_back();
              return err;
            }
            default:  // arrays and nulls are not extracted
              return nullptr;
          }
        });
  }

  void SetLabel(std::string_view key, std::string_view value, ValueType type) {
    name_.clear();
    if (prefix_.empty()) {
      AppendSanitizedLabelName(key, true, &name_);
    } else {
      name_.append(prefix_);
      name_.push_back('_');
      AppendSanitizedLabelName(key, false, &name_);
    }
    // Top-level keys were decided by keys_ already.
    if (name_.empty() || (!prefix_.empty() && !keys_.hints().ShouldExtract(name_))) return;
    ResolveCollision(*lbs_, &name_);
    if (type == ValueType::kString) {
      value_.clear();
      json::AppendLabelValue(value, &value_);
      lbs_->Set(name_, value_);
    } else {
      lbs_->Set(name_, value);  // numbers as written; booleans are "true"/"false"
    }
    if (paths_ != nullptr) {
      paths_->emplace_back(name_, raw_keys_).second.emplace_back(key);
    }
  }

  HintedKeys keys_;
  JsonPaths* paths_;                   // nullable: paths are recorded only when set
  std::vector<std::string> raw_keys_;  // the keys of the objects above the current member
  size_t top_level_keys_ = 0;          // scalar members of the top-level object seen so far
  LabelsBuilder* lbs_ = nullptr;
  std::string prefix_;
  std::string name_;
  std::string value_;
  std::string key_buf_;
};

// --- json with parameters ---------------------------------------------------------------------

struct JsonPathPart {
  bool is_index = false;
  std::string key;
  int index = 0;
};

// Loki's jsonexpr grammar: a field, `["key"]` or `[0]`, followed by any number of `.field`,
// `["key"]` and `[0]`.
Result<std::vector<JsonPathPart>> ParseJsonPath(std::string_view expr) {
  enum class Tok { kEof, kDot, kLsb, kRsb, kField, kString, kIndex };
  struct Token {
    Tok tok;
    std::string text;
    int index = 0;
  };
  std::vector<Token> toks;
  std::string lex_error;
  auto is_start = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  for (size_t i = 0; i < expr.size() && lex_error.empty();) {
    char c = expr[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      ++i;
    } else if (is_digit(c)) {
      size_t j = i;
      int v = 0;
      for (; j < expr.size(); ++j) {
        char d = expr[j];
        if (d == '.' && j > i) {
          lex_error = "cannot use float as array index";
          break;
        }
        if (d == ' ' || d == '\t' || d == '\n' || d == '.' || d == ']') break;
        if (!is_digit(d)) {
          lex_error = fmt::format("non-integer value: {}", d);
          break;
        }
        v = std::min(v * 10 + (d - '0'), 1 << 30);
      }
      if (j == expr.size() && lex_error.empty()) lex_error = "non-integer value: ";
      toks.push_back({Tok::kIndex, {}, v});
      i = j;
    } else if (c == '[') {
      toks.push_back({Tok::kLsb, {}});
      ++i;
    } else if (c == ']') {
      toks.push_back({Tok::kRsb, {}});
      ++i;
    } else if (c == '.') {
      toks.push_back({Tok::kDot, {}});
      ++i;
    } else if (is_start(c)) {
      size_t j = i;
      while (j < expr.size() && (is_start(expr[j]) || is_digit(expr[j]))) ++j;
      toks.push_back({Tok::kField, std::string(expr.substr(i, j - i))});
      i = j;
    } else if (c == '"') {
      size_t j = i + 1;
      while (j < expr.size() && expr[j] != '"' && expr[j] != ']') ++j;
      toks.push_back({Tok::kString, std::string(expr.substr(i + 1, j - i - 1))});
      i = j < expr.size() ? j + 1 : j;
    } else {
      lex_error = fmt::format("unexpected char {}", c);
    }
  }
  if (!lex_error.empty() && !toks.empty() && toks.back().tok == Tok::kIndex) toks.pop_back();
  std::vector<JsonPathPart> parts;
  size_t k = 0;
  auto tok = [&](size_t n) { return n < toks.size() ? toks[n].tok : Tok::kEof; };
  bool ok = true;
  while (ok && k < toks.size()) {
    if (tok(k) == Tok::kField && parts.empty()) {
      parts.push_back({false, toks[k].text, 0});
      k += 1;
    } else if (tok(k) == Tok::kDot && tok(k + 1) == Tok::kField && !parts.empty()) {
      parts.push_back({false, toks[k + 1].text, 0});
      k += 2;
    } else if (tok(k) == Tok::kLsb && tok(k + 1) == Tok::kString && tok(k + 2) == Tok::kRsb) {
      parts.push_back({false, toks[k + 1].text, 0});
      k += 3;
    } else if (tok(k) == Tok::kLsb && tok(k + 1) == Tok::kIndex && tok(k + 2) == Tok::kRsb) {
      parts.push_back({true, {}, toks[k + 1].index});
      k += 3;
    } else {
      ok = false;
    }
  }
  if (!ok || parts.empty()) {
    return Status::InvalidArgument(fmt::format("cannot parse expression [{}]: syntax error", expr));
  }
  if (!lex_error.empty()) {
    return Status::InvalidArgument(
        fmt::format("cannot parse expression [{}]: {}", expr, lex_error));
  }
  return parts;
}

class JsonExpressionParser final : public Stage {
 public:
  static Result<StagePtr> Make(const std::vector<syntax::LabelExtraction>& extractions) {
    auto p = std::make_unique<JsonExpressionParser>();
    p->nodes_.emplace_back();  // the root
    for (const auto& e : extractions) {
      SLUICE_ASSIGN_OR_RETURN(std::vector<JsonPathPart> path, ParseJsonPath(e.expression));
      if (!model::IsValidLabelName(e.label)) {
        return Status::InvalidArgument(fmt::format("invalid extracted label name '{}'", e.label));
      }
      int node = 0;
      for (const auto& part : path) node = p->Child(node, part);
      // Sized once: walks hold views into these buffers while recursing.
      p->key_bufs_.resize(std::max(p->key_bufs_.size(), path.size() + 1));
      p->nodes_[static_cast<size_t>(node)].ids.push_back(p->ids_.size());
      p->ids_.push_back(e.label);
    }
    p->found_.resize(p->ids_.size());
    return StagePtr(std::move(p));
  }

  bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
    if (line->empty()) return true;
    char c = (*line)[0];
    if (c != '"' && c != '{' && c != '[') {
      lbs->SetErr(kErrJson);
      return true;
    }
    lbs_ = lbs;
    std::fill(found_.begin(), found_.end(), false);
    pending_ = ids_.size();
    Walk(0, *line, 0);
    if (pending_ > 0) {
      for (const auto& id : ids_) {
        if (lbs->Get(id) == nullptr) lbs->Set(id, "");
      }
    }
    return true;
  }

 private:
  struct Node {
    std::vector<std::pair<std::string, int>> keys;  // child by object key
    std::vector<std::pair<int, int>> indexes;       // child by array index
    std::vector<size_t> ids;                        // extractions whose path ends here
  };

  int Child(int node, const JsonPathPart& part) {
    Node& n = nodes_[static_cast<size_t>(node)];
    if (part.is_index) {
      for (const auto& [i, c] : n.indexes) {
        if (i == part.index) return c;
      }
      n.indexes.emplace_back(part.index, static_cast<int>(nodes_.size()));
    } else {
      for (const auto& [k, c] : n.keys) {
        if (k == part.key) return c;
      }
      n.keys.emplace_back(part.key, static_cast<int>(nodes_.size()));
    }
    int child = static_cast<int>(nodes_.size());
    nodes_.emplace_back();
    return child;
  }

  // Sets the ids ending at `node` that are not set yet (jsonparser.EachKey takes the first
  // occurrence of a path).
  void Assign(const Node& node, std::string_view value, ValueType type) {
    for (size_t id : node.ids) {
      if (found_[id]) continue;
      found_[id] = true;
      --pending_;
      name_ = ids_[id];
      ResolveCollision(*lbs_, &name_);
      value_.clear();
      if (type == ValueType::kObject) {
        value_.assign(value);
      } else if (type != ValueType::kNull) {
        json::AppendLabelValue(value, &value_);
      }
      lbs_->Set(name_, value_);
    }
  }

  bool Pending(const Node& node) const {
    for (size_t id : node.ids) {
      if (!found_[id]) return true;
    }
    return !node.keys.empty() || !node.indexes.empty();
  }

  void Visit(int child, std::string_view value, ValueType type, size_t depth) {
    const Node& n = nodes_[static_cast<size_t>(child)];
    Assign(n, value, type);
    if ((type == ValueType::kObject && !n.keys.empty()) ||
        (type == ValueType::kArray && !n.indexes.empty())) {
      Walk(child, value, depth + 1);
    }
  }

  void Fail(const char* err) {
    lbs_->SetErr(kErrJson);
    lbs_->SetErrorDetails(err);
  }

  // Visits the members of the object or array `data` that the paths below `node` name.
  // `depth` is the node's depth in the path trie (bounded by the longest path).
  void Walk(int node, std::string_view data, size_t depth) {
    const Node& n = nodes_[static_cast<size_t>(node)];
    SLUICE_CHECK(depth < key_bufs_.size());
    size_t t = json::NextToken(data);
    if (t == json::kNpos) return;
    if (data[t] == '{' && !n.keys.empty()) {
      bool matched_bad = false;
      // Each depth has its own key buffer: a nested walk must not overwrite `key`.
      const char* err = json::ObjectEach(
          data, &key_bufs_[depth],
          [&](std::string_view key, std::string_view value, ValueType type) -> const char* {
            for (const auto& [k, c] : n.keys) {
              if (k != key || !Pending(nodes_[static_cast<size_t>(c)])) continue;
              if (type == ValueType::kNotExist) {
                matched_bad = true;
                continue;
              }
              Visit(c, value, type, depth);
            }
            return pending_ == 0 ? json::kMalformedJson : nullptr;  // stop once all are found
          });
      if (err != nullptr && matched_bad) Fail(err);
    } else if (data[t] == '[' && !n.indexes.empty()) {
      // jsonparser.ArrayEach.
      size_t off = t + 1;
      int index = 0;
      while (pending_ > 0) {
        size_t s = json::NextToken(data.substr(off));
        if (s == json::kNpos) return;
        off += s;
        if (data[off] == ']') return;
        std::string_view value;
        ValueType type;
        size_t end = 0;
        const char* err = json::GetValue(data.substr(off), &value, &type, &end);
        for (const auto& [i, c] : n.indexes) {
          if (i != index || !Pending(nodes_[static_cast<size_t>(c)])) continue;
          if (err != nullptr) {
            Fail(err);
          } else {
            Visit(c, value, type, depth);
          }
        }
        if (err != nullptr) return;
        off += end;
        s = json::NextToken(data.substr(off));
        if (s == json::kNpos) return;
        off += s;
        if (data[off] != ',') return;
        ++off;
        ++index;
      }
    }
  }

  std::vector<Node> nodes_;
  std::vector<std::string> ids_;
  std::vector<bool> found_;
  size_t pending_ = 0;
  LabelsBuilder* lbs_ = nullptr;
  std::string name_;
  std::string value_;
  std::vector<std::string> key_bufs_;
};

// --- logfmt -----------------------------------------------------------------------------------

class LogfmtParser final : public Stage {
 public:
  LogfmtParser(bool strict, bool keep_empty, ParserHints hints)
      : strict_(strict), keep_empty_(keep_empty), keys_(std::move(hints)) {}

  bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
    dec_.Reset(*line);
    size_t position = 0;
    while (!dec_.EOL()) {
      if (!dec_.ScanKeyval()) {
        if (strict_) break;
        continue;
      }
      if (!keys_.ShouldExtract(position++, dec_.key())) continue;
      name_.clear();
      AppendSanitizedLabelName(dec_.key(), true, &name_);
      if (name_.empty()) continue;
      ResolveCollision(*lbs, &name_);
      std::string_view val = dec_.value();
      if (HasRuneError(val)) {
        value_.clear();
        AppendReplacingRuneErrors(val, &value_);
        val = value_;
      }
      if (!keep_empty_ && val.empty()) continue;
      lbs->Set(name_, val);
    }
    if (strict_ && !dec_.err().empty()) {
      lbs->SetErr(kErrLogfmt);
      lbs->SetErrorDetails(dec_.err());
    }
    return true;
  }

 private:
  bool strict_;
  bool keep_empty_;
  HintedKeys keys_;
  LogfmtDecoder dec_;
  std::string name_;
  std::string value_;
};

class LogfmtExpressionParser final : public Stage {
 public:
  static Result<StagePtr> Make(const syntax::ParserStage& stage) {
    auto p = std::make_unique<LogfmtExpressionParser>();
    p->strict_ = stage.strict;
    for (const auto& e : stage.extractions) {
      SLUICE_ASSIGN_OR_RETURN(std::string key, ParseKey(e.expression));
      if (!model::IsValidLabelName(e.label)) {
        return Status::InvalidArgument(fmt::format("invalid extracted label name '{}'", e.label));
      }
      // Loki keys its expressions by label: a repeated label keeps the last expression.
      bool replaced = false;
      for (auto& x : p->exprs_) {
        if (x.id == e.label) {
          x.key = key;
          replaced = true;
        }
      }
      if (!replaced) p->exprs_.push_back({e.label, std::move(key)});
    }
    return StagePtr(std::move(p));
  }

  bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
    for (const auto& x : exprs_) {
      if (!lbs->BaseHas(x.id)) lbs->Set(x.id, "");
    }
    dec_.Reset(*line);
    while (!dec_.EOL()) {
      if (!dec_.ScanKeyval()) {
        if (strict_) break;
        continue;
      }
      key_.clear();
      AppendSanitizedLabelName(dec_.key(), true, &key_);
      if (key_.empty()) continue;
      std::string_view val = dec_.value();
      if (HasRuneError(val)) val = {};
      // The label whose expression names this key, else the key itself if it is a label.
      const Expr* target = nullptr;
      for (const auto& x : exprs_) {
        if (x.key == key_) {
          target = &x;
          break;
        }
      }
      if (target == nullptr) {
        for (const auto& x : exprs_) {
          if (x.id == key_) {
            target = &x;
            break;
          }
        }
      }
      if (target == nullptr) continue;
      name_ = target->id;
      ResolveCollision(*lbs, &name_);
      lbs->Set(name_, val);
    }
    if (strict_ && !dec_.err().empty()) {
      lbs->SetErr(kErrLogfmt);
      lbs->SetErrorDetails(dec_.err());
    }
    return true;
  }

 private:
  struct Expr {
    std::string id;
    std::string key;
  };

  // Loki's logfmt expression: one field ([A-Za-z_][A-Za-z0-9_]*) or one "quoted key".
  static Result<std::string> ParseKey(std::string_view expr) {
    std::string_view s = expr;
    auto trim = [](std::string_view v) {
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.front() == '\n')) {
        v.remove_prefix(1);
      }
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\n')) {
        v.remove_suffix(1);
      }
      return v;
    };
    s = trim(s);
    auto fail = [&](std::string_view why) {
      return Status::InvalidArgument(fmt::format("cannot parse expression [{}]: {}", expr, why));
    };
    if (s.empty()) return fail("syntax error");
    if (s[0] == '"') {
      size_t end = s.find_first_of("\"]", 1);
      std::string key(
          s.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
      if (end != std::string_view::npos && !trim(s.substr(end + 1)).empty())
        return fail("syntax error");
      return key;
    }
    char c = s[0];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')) {
      return fail(fmt::format("unexpected char {}", c));
    }
    size_t j = 1;
    while (j < s.size() && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
                            (s[j] >= '0' && s[j] <= '9') || s[j] == '_')) {
      ++j;
    }
    if (j != s.size()) return fail("syntax error");
    return std::string(s);
  }

  bool strict_ = false;
  std::vector<Expr> exprs_;
  LogfmtDecoder dec_;
  std::string key_;
  std::string name_;
};

// --- regexp -----------------------------------------------------------------------------------

class RegexpParser final : public Stage {
 public:
  static Result<StagePtr> Make(const std::string& pattern) {
    auto p = std::make_unique<RegexpParser>();
    RE2::Options opts;
    opts.set_log_errors(false);
    p->re_ = std::make_unique<RE2>(pattern, opts);
    if (!p->re_->ok()) {
      return Status::InvalidArgument(
          fmt::format("error parsing regexp: {}: `{}`", p->re_->error(), p->re_->error_arg()));
    }
    const int groups = p->re_->NumberOfCapturingGroups();
    if (groups <= 0) return Status::InvalidArgument("at least one named capture must be supplied");
    for (const auto& [index, name] : p->re_->CapturingGroupNames()) {
      if (!model::IsValidLabelName(name)) {
        return Status::InvalidArgument(fmt::format("invalid extracted label name '{}'", name));
      }
      p->names_.push_back({index, name});
    }
    if (p->names_.empty()) {
      return Status::InvalidArgument("at least one named capture must be supplied");
    }
    p->groups_.resize(static_cast<size_t>(groups) + 1);
    return StagePtr(std::move(p));
  }

  bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
    if (!re_->Match(*line, 0, line->size(), RE2::UNANCHORED, groups_.data(),
                    static_cast<int>(groups_.size()))) {
      return true;
    }
    for (const auto& [index, name] : names_) {
      const auto& g = groups_[static_cast<size_t>(index)];
      name_ = name;
      ResolveCollision(*lbs, &name_);
      lbs->Set(name_, std::string_view(g.data() == nullptr ? "" : g.data(), g.size()));
    }
    return true;
  }

 private:
  std::unique_ptr<RE2> re_;
  std::vector<std::pair<int, std::string>> names_;  // by group index
  std::vector<re2::StringPiece> groups_;
  std::string name_;
};

// --- pattern ----------------------------------------------------------------------------------

class PatternParser final : public Stage {
 public:
  explicit PatternParser(PatternMatcher m) : matcher_(std::move(m)) {}

  bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
    matcher_.Matches(*line, &captures_);
    const auto& names = matcher_.names();
    for (size_t i = 0; i < captures_.size(); ++i) {
      name_ = names[i];
      ResolveCollision(*lbs, &name_);
      lbs->Set(name_, captures_[i]);
    }
    return true;
  }

 private:
  PatternMatcher matcher_;
  std::vector<std::string_view> captures_;
  std::string name_;
};

// --- unpack -----------------------------------------------------------------------------------

class UnpackParser final : public Stage {
 public:
  bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
    if (line->empty()) return true;
    if ((*line)[0] != '{') {
      lbs->SetErr(kErrJson);
      lbs->SetErrorDetails("expecting json object(6), but it is not");
      return true;
    }
    n_pairs_ = 0;
    bool packed = false;
    const char* err = json::ObjectEach(
        *line, &key_buf_,
        [&](std::string_view key, std::string_view value, ValueType type) -> const char* {
          if (type != ValueType::kString) return nullptr;
          if (key == "_entry") {
            entry_.clear();
            if (!json::Unescape(value, &entry_)) return json::kMalformedStringEscape;
            packed = true;
            return nullptr;
          }
          if (n_pairs_ == pairs_.size()) pairs_.emplace_back();
          auto& [name, val] = pairs_[n_pairs_++];
          field_.assign(key);
          ResolveCollision(*lbs, &field_);
          name.clear();
          AppendSanitizedLabelName(field_, true, &name);
          val.clear();
          json::AppendLabelValue(value, &val);
          return nullptr;
        });
    if (err != nullptr) {
      lbs->SetErr(kErrJson);
      lbs->SetErrorDetails(err);
      return true;
    }
    if (packed) {
      for (size_t i = 0; i < n_pairs_; ++i) lbs->Set(pairs_[i].first, pairs_[i].second);
      *line = entry_;
    }
    return true;
  }

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
  size_t n_pairs_ = 0;
  std::string entry_;
  std::string field_;
  std::string key_buf_;
};

}  // namespace

Result<StagePtr> NewParserStage(const syntax::ParserStage& stage, const ParserHints& hints) {
  switch (stage.parser) {
    case syntax::ParserKind::kJson:
      if (stage.extractions.empty()) return StagePtr(std::make_unique<JsonParser>(hints));
      return JsonExpressionParser::Make(stage.extractions);
    case syntax::ParserKind::kLogfmt:
      if (stage.extractions.empty()) {
        return StagePtr(std::make_unique<LogfmtParser>(stage.strict, stage.keep_empty, hints));
      }
      return LogfmtExpressionParser::Make(stage);
    case syntax::ParserKind::kRegexp:
      return RegexpParser::Make(stage.param);
    case syntax::ParserKind::kPattern: {
      SLUICE_ASSIGN_OR_RETURN(PatternMatcher m, PatternMatcher::Parse(stage.param));
      for (const auto& name : m.names()) {
        if (!model::IsValidLabelName(name)) {
          return Status::InvalidArgument(fmt::format("invalid capture label name '{}'", name));
        }
      }
      return StagePtr(std::make_unique<PatternParser>(std::move(m)));
    }
    case syntax::ParserKind::kUnpack:
      return StagePtr(std::make_unique<UnpackParser>());
  }
  return Status::InvalidArgument("unsupported parser");
}

StagePtr NewJsonParserWithPaths(JsonPaths* paths) {
  return std::make_unique<JsonParser>(ParserHints(), paths);
}

}  // namespace sluice::logql::log
