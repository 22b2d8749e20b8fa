#include "gotemplate/regex_replace.h"

#include <re2/re2.h>

#include "common/utf8.h"
#include "gocompat/strings.h"

namespace sluice::gotemplate::internal {

namespace {

bool ExtractGroupRef(std::string_view t, std::string_view* name, int* num, size_t* consumed) {
  if (t.empty()) return false;
  bool brace = false;
  size_t i = 0;
  if (t[0] == '{') {
    brace = true;
    i = 1;
  }
  size_t start = i;
  while (i < t.size()) {
    size_t w;
    char32_t r = DecodeRune(t, i, &w);
    bool ok = r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') ||
              (r >= 'A' && r <= 'Z') || (r >= 0x80 && r != kRuneError && !gocompat::IsSpace(r));
    if (!ok) break;
    i += w;
  }
  if (i == start) return false;
  *name = t.substr(start, i - start);
  if (brace) {
    if (i >= t.size() || t[i] != '}') return false;
    ++i;
  }
  *num = 0;
  for (char c : *name) {
    if (c < '0' || c > '9' || *num >= 100000000) {
      *num = -1;
      break;
    }
    *num = *num * 10 + (c - '0');
  }
  if ((*name)[0] == '0' && name->size() > 1) *num = -1;
  *consumed = i;
  return true;
}

void Expand(const re2::RE2& re, std::string_view repl, const re2::StringPiece* groups, int ngroups,
            std::string* out) {
  while (!repl.empty()) {
    size_t d = repl.find('$');
    if (d == std::string_view::npos) break;
    out->append(repl.substr(0, d));
    repl.remove_prefix(d + 1);
    if (!repl.empty() && repl[0] == '$') {
      out->push_back('$');
      repl.remove_prefix(1);
      continue;
    }
    std::string_view name;
    int num;
    size_t consumed;
    if (!ExtractGroupRef(repl, &name, &num, &consumed)) {
      out->push_back('$');
      continue;
    }
    repl.remove_prefix(consumed);
    if (num >= 0) {
      if (num < ngroups && groups[num].data() != nullptr) {
        out->append(groups[num].data(), groups[num].size());
      }
    } else {
      const auto& names = re.NamedCapturingGroups();
      auto it = names.find(std::string(name));
      if (it != names.end() && it->second < ngroups && groups[it->second].data() != nullptr) {
        out->append(groups[it->second].data(), groups[it->second].size());
      }
    }
  }
  out->append(repl);
}

}  // namespace

bool RegexReplaceAll(const re2::RE2& re, std::string_view src, std::string_view repl, bool expand,
                     size_t max_out, std::string* out) {
  int ngroups = expand ? re.NumberOfCapturingGroups() + 1 : 1;
  std::vector<re2::StringPiece> groups(static_cast<size_t>(ngroups));
  size_t last_match_end = 0;
  size_t search = 0;
  bool any = false;
  while (search <= src.size()) {
    if (!re.Match(src, search, src.size(), re2::RE2::UNANCHORED, groups.data(), ngroups)) break;
    size_t a = static_cast<size_t>(groups[0].data() - src.data());
    size_t b = a + groups[0].size();
    out->append(src.substr(last_match_end, a - last_match_end));
    // No replacement for an empty match right after the previous match.
    if (b > last_match_end || a == 0 || !any) {
      if (expand) {
        Expand(re, repl, groups.data(), ngroups, out);
      } else {
        out->append(repl);
      }
    }
    if (out->size() > max_out) return false;
    any = true;
    last_match_end = b;
    size_t width = 1;
    if (search < src.size()) DecodeRune(src, search, &width);
    if (search + width > b) {
      search += width;
    } else if (search + 1 > b) {
      ++search;
    } else {
      search = b;
    }
  }
  out->append(src.substr(last_match_end));
  return out->size() <= max_out;
}

int64_t RegexCount(const re2::RE2& re, std::string_view src) {
  re2::StringPiece m;
  int64_t n = 0;
  size_t pos = 0;
  size_t prev_end = SIZE_MAX;
  while (pos <= src.size()) {
    if (!re.Match(src, pos, src.size(), re2::RE2::UNANCHORED, &m, 1)) break;
    size_t a = static_cast<size_t>(m.data() - src.data());
    size_t b = a + m.size();
    bool accept = true;
    if (b == pos) {
      if (a == prev_end) accept = false;  // empty match right after the previous one
      size_t w = 1;
      if (pos < src.size()) DecodeRune(src, pos, &w);
      pos += w;
    } else {
      pos = b;
    }
    prev_end = b;
    if (accept) ++n;
  }
  return n;
}

}  // namespace sluice::gotemplate::internal
