#include "gotemplate/builtins.h"

#include <re2/re2.h>

#include <algorithm>
#include <memory>

#include "common/utf8.h"
#include "gocompat/strings.h"
#include "gotemplate/regex_replace.h"

namespace sluice::gotemplate::internal {

namespace {

// The call site's regex when the pattern was a literal (compiled at parse time), else a new one
// in *holder.
const re2::RE2* CompiledRegex(const Command* cmd, std::string_view pattern,
                              std::unique_ptr<re2::RE2>* holder, std::string* err) {
  if (cmd != nullptr && cmd->regex) return cmd->regex.get();
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  *holder = std::make_unique<re2::RE2>(pattern, opts);
  if (!(*holder)->ok()) {
    *err = "error parsing regexp: " + (*holder)->error();
    return nullptr;
  }
  return holder->get();
}

}  // namespace

bool ApplyStringFunc(Func id, std::span<const Value> a, const CallEnv& env, Value* out,
                     std::string* err) {
  auto str = [&](size_t k) { return a[k].str(); };
  auto owned = [&](std::string s) {
    *out = Value::Owned(std::move(s));
    return true;
  };
  switch (id) {
    case Func::kLine:
      *out = Value::View(env.ctx.line);
      return true;
    case Func::kToLower:
    case Func::kLower: {
      std::string s;
      gocompat::ToLower(str(0), &s);
      return owned(std::move(s));
    }
    case Func::kToUpper:
    case Func::kUpper: {
      std::string s;
      gocompat::ToUpper(str(0), &s);
      return owned(std::move(s));
    }
    case Func::kTitle: {
      std::string s;
      gocompat::Title(str(0), &s);
      return owned(std::move(s));
    }
    case Func::kGoReplace:
    case Func::kReplace: {
      // Go: Replace(s, old, new, n); sprig: replace(old, new, src).
      bool go = id == Func::kGoReplace;
      std::string_view s = go ? str(0) : str(2), o = go ? str(1) : str(0),
                       nw = go ? str(2) : str(1);
      int64_t n = go ? a[3].i() : -1;
      uint64_t occurrences = o.empty() ? s.size() + 1 : s.size() / o.size();
      if (TooLarge(s.size() + occurrences * nw.size(), err)) return false;
      std::string r;
      gocompat::Replace(s, o, nw, n, &r);
      return owned(std::move(r));
    }
    case Func::kGoTrim:
    case Func::kGoTrimLeft:
    case Func::kGoTrimRight:
      *out = SubValue(
          a[0], gocompat::Trim(str(0), str(1), id != Func::kGoTrimRight, id != Func::kGoTrimLeft));
      return true;
    case Func::kTrimAll:
      *out = SubValue(a[1], gocompat::Trim(str(1), str(0), true, true));
      return true;
    case Func::kGoTrimPrefix:
    case Func::kTrimPrefix: {
      size_t s_idx = id == Func::kGoTrimPrefix ? 0 : 1;
      std::string_view s = str(s_idx), p = str(1 - s_idx);
      if (s.substr(0, p.size()) == p) s.remove_prefix(p.size());
      *out = SubValue(a[s_idx], s);
      return true;
    }
    case Func::kGoTrimSuffix:
    case Func::kTrimSuffix: {
      size_t s_idx = id == Func::kGoTrimSuffix ? 0 : 1;
      std::string_view s = str(s_idx), p = str(1 - s_idx);
      if (s.size() >= p.size() && s.substr(s.size() - p.size()) == p) s.remove_suffix(p.size());
      *out = SubValue(a[s_idx], s);
      return true;
    }
    case Func::kGoTrimSpace:
    case Func::kTrim:
      *out = SubValue(a[0], gocompat::TrimSpace(str(0)));
      return true;
    case Func::kRegexReplaceAll:
    case Func::kRegexReplaceAllLiteral: {
      std::unique_ptr<re2::RE2> holder;
      const re2::RE2* re = CompiledRegex(env.cmd, str(0), &holder, err);
      if (re == nullptr) return false;
      std::string r;
      if (!RegexReplaceAll(*re, str(1), str(2), id == Func::kRegexReplaceAll,
                           Template::kMaxOutputBytes, &r)) {
        return !TooLarge(UINT64_MAX, err);
      }
      return owned(std::move(r));
    }
    case Func::kCount: {
      std::unique_ptr<re2::RE2> holder;
      const re2::RE2* re = CompiledRegex(env.cmd, str(0), &holder, err);
      if (re == nullptr) return false;
      *out = Value::Int(RegexCount(*re, str(1)));
      return true;
    }
    case Func::kAlignLeft:
    case Func::kAlignRight: {
      int64_t count = a[0].i();
      std::string_view src = str(1);
      size_t runes = RuneCount(src);
      if (count < 0 || static_cast<uint64_t>(count) == runes) {
        *out = a[1];
        return true;
      }
      if (static_cast<uint64_t>(count) > runes) {
        if (TooLarge(static_cast<uint64_t>(count), err)) return false;
        std::string pad(static_cast<size_t>(count) - runes, ' ');
        return owned(id == Func::kAlignLeft ? std::string(src) + pad : pad + std::string(src));
      }
      // Cut to `count` runes, keeping the left or the right end.
      size_t keep_from = 0, keep_to = src.size();
      size_t i = 0, w = 0;
      size_t skip =
          id == Func::kAlignLeft ? static_cast<size_t>(count) : runes - static_cast<size_t>(count);
      for (size_t n = 0; n < skip; ++n, i += w) DecodeRune(src, i, &w);
      if (id == Func::kAlignLeft) {
        keep_to = i;
      } else {
        keep_from = i;
      }
      // Invalid bytes count as runes but are re-encoded as U+FFFD by Go's []rune conversion.
      std::string r;
      std::string_view part = src.substr(keep_from, keep_to - keep_from);
      for (size_t k = 0; k < part.size(); k += w) AppendUtf8(&r, DecodeRune(part, k, &w));
      return owned(std::move(r));
    }
    case Func::kTrunc: {
      int64_t c = a[0].i();
      std::string_view s = str(1);
      auto len = static_cast<int64_t>(s.size());
      if (c < 0 && len + c > 0) {
        *out = SubValue(a[1], s.substr(static_cast<size_t>(len + c)));
      } else if (c >= 0 && len > c) {
        *out = SubValue(a[1], s.substr(0, static_cast<size_t>(c)));
      } else {
        *out = a[1];
      }
      return true;
    }
    case Func::kSubstr: {
      int64_t start = a[0].i(), end = a[1].i();
      std::string_view s = str(2);
      auto len = static_cast<int64_t>(s.size());
      auto bounds = [&](const std::string& what) {
        *err = "runtime error: slice bounds out of range " + what;
        return false;
      };
      if (start < 0) {
        if (end < 0) return bounds("[:" + std::to_string(end) + "]");
        if (end > len) {
          return bounds("[:" + std::to_string(end) + "] with length " + std::to_string(len));
        }
        *out = SubValue(a[2], s.substr(0, static_cast<size_t>(end)));
        return true;
      }
      if (end < 0 || end > len) {
        if (start > len)
          return bounds("[" + std::to_string(start) + ":" + std::to_string(len) + "]");
        *out = SubValue(a[2], s.substr(static_cast<size_t>(start)));
        return true;
      }
      if (start > end) {
        return bounds("[" + std::to_string(start) + ":" + std::to_string(end) + "]");
      }
      *out = SubValue(a[2], s.substr(static_cast<size_t>(start), static_cast<size_t>(end - start)));
      return true;
    }
    case Func::kContains:
      *out = Value::Bool(str(1).find(str(0)) != std::string_view::npos);
      return true;
    case Func::kHasPrefix:
      *out = Value::Bool(str(1).substr(0, str(0).size()) == str(0));
      return true;
    case Func::kHasSuffix:
      *out = Value::Bool(str(1).size() >= str(0).size() &&
                         str(1).substr(str(1).size() - str(0).size()) == str(0));
      return true;
    case Func::kIndent:
    case Func::kNindent: {
      int64_t spaces = a[0].i();
      if (spaces < 0) {
        *err = "strings: negative Repeat count";
        return false;
      }
      std::string_view v = str(1);
      uint64_t lines = 1 + static_cast<uint64_t>(std::count(v.begin(), v.end(), '\n'));
      if (TooLarge(v.size() + lines * static_cast<uint64_t>(spaces), err)) return false;
      std::string pad(static_cast<size_t>(spaces), ' ');
      std::string r = id == Func::kNindent ? "\n" + pad : pad;
      gocompat::Replace(v, "\n", "\n" + pad, -1, &r);
      return owned(std::move(r));
    }
    case Func::kRepeat: {
      int64_t count = a[0].i();
      if (count < 0) {
        *err = "strings: negative Repeat count";
        return false;
      }
      std::string_view s = str(1);
      if (!s.empty() && TooLarge(static_cast<uint64_t>(count) > Template::kMaxOutputBytes
                                     ? UINT64_MAX
                                     : static_cast<uint64_t>(count) * s.size(),
                                 err)) {
        return false;
      }
      std::string r;
      if (!s.empty()) {
        r.reserve(static_cast<size_t>(count) * s.size());
        for (int64_t k = 0; k < count; ++k) r.append(s);
      }
      return owned(std::move(r));
    }
    default:
      break;
  }
  *err = "not a string function";
  return false;
}

}  // namespace sluice::gotemplate::internal
