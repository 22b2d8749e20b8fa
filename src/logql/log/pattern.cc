#include "logql/log/pattern.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::logql::log {

namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

std::string CaptureText(std::string_view name) { return "<" + std::string(name) + ">"; }

}  // namespace

Result<std::vector<PatternMatcher::Node>> PatternMatcher::Tokenize(std::string_view p) {
  std::vector<Node> nodes;
  for (size_t i = 0; i < p.size();) {
    if (p[i] == '<' && i + 1 < p.size() && IsNameStart(p[i + 1])) {
      size_t j = i + 2;
      while (j < p.size() && IsNameChar(p[j])) ++j;
      if (j < p.size() && p[j] == '>') {
        Node n;
        n.capture = true;
        n.text.assign(p.substr(i + 1, j - i - 1));
        n.unnamed = n.text == "_";
        nodes.push_back(std::move(n));
        i = j + 1;
        continue;
      }
    }
    if (nodes.empty() || nodes.back().capture) nodes.emplace_back();
    nodes.back().text.push_back(p[i]);
    ++i;
  }
  if (nodes.empty()) {
    // Loki's grammar needs at least one token.
    return Status::InvalidArgument(
        "syntax error: unexpected $end, expecting IDENTIFIER or LITERAL");
  }
  return nodes;
}

Result<PatternMatcher> PatternMatcher::Parse(std::string_view pattern) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<Node> nodes, Tokenize(pattern));
  PatternMatcher m;
  for (const auto& n : nodes) {
    if (n.capture && !n.unnamed) m.names_.push_back(n.text);
  }
  if (m.names_.empty()) return Status::InvalidArgument("at least one capture is required");
  for (size_t i = 0; i + 1 < nodes.size(); ++i) {
    if (nodes[i].capture && nodes[i + 1].capture) {
      return Status::InvalidArgument(
          fmt::format("found consecutive capture '{}{}': invalid expression",
                      CaptureText(nodes[i].text), CaptureText(nodes[i + 1].text)));
    }
  }
  for (size_t i = 0; i < m.names_.size(); ++i) {
    if (std::find(m.names_.begin(), m.names_.begin() + static_cast<ptrdiff_t>(i), m.names_[i]) !=
        m.names_.begin() + static_cast<ptrdiff_t>(i)) {
      return Status::InvalidArgument(
          fmt::format("duplicate capture name ({}): invalid expression", m.names_[i]));
    }
  }
  m.nodes_ = std::move(nodes);
  return m;
}

Result<PatternMatcher> PatternMatcher::ParseLineFilter(std::string_view pattern) {
  PatternMatcher m;
  if (pattern.empty()) return m;
  SLUICE_ASSIGN_OR_RETURN(std::vector<Node> nodes, Tokenize(pattern));
  for (size_t i = 0; i + 1 < nodes.size(); ++i) {
    if (nodes[i].capture && nodes[i + 1].capture) {
      return Status::InvalidArgument(
          fmt::format("found consecutive capture '{}{}': invalid expression",
                      CaptureText(nodes[i].text), CaptureText(nodes[i + 1].text)));
    }
  }
  for (const auto& n : nodes) {
    if (n.capture && !n.unnamed) {
      return Status::InvalidArgument(
          fmt::format("named captures are not allowed: found '{}'", CaptureText(n.text)));
    }
  }
  m.nodes_ = std::move(nodes);
  return m;
}

void PatternMatcher::Matches(std::string_view in, std::vector<std::string_view>* out) const {
  out->clear();
  if (in.empty() || nodes_.empty()) return;
  size_t k = 0;
  if (!nodes_[0].capture) {
    const std::string& lit = nodes_[0].text;
    if (in.substr(0, lit.size()) != lit) return;
    in.remove_prefix(lit.size());
    k = 1;
  }
  if (k == nodes_.size()) return;
  // From here: capture, literal, capture, ..., with an optional trailing literal.
  while (k < nodes_.size()) {
    const Node& cap = nodes_[k];
    if (k + 1 == nodes_.size()) {  // ends on a capture: it takes the rest
      if (!cap.unnamed) out->push_back(in);
      return;
    }
    const std::string& lit = nodes_[k + 1].text;
    k += 2;
    size_t i = in.find(lit);
    if (i == std::string_view::npos) {
      if (!cap.unnamed) out->push_back(in);
      return;
    }
    if (!cap.unnamed) out->push_back(in.substr(0, i));
    in.remove_prefix(i + lit.size());
  }
}

bool PatternMatcher::Test(std::string_view in) const {
  if (in.empty() || nodes_.empty()) return in.empty() && nodes_.empty();
  size_t off = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].capture) continue;
    const std::string& lit = nodes_[i].text;
    size_t j = in.substr(off).find(lit);
    if (j == std::string_view::npos) return false;
    // Repeated literals or an empty capture: no match.
    if (i != 0 && j == 0) return false;
    off += j + lit.size();
  }
  bool ends_on_capture = nodes_.back().capture;
  bool has_rest = off != in.size();
  return ends_on_capture == has_rest;
}

}  // namespace sluice::logql::log
