#include "logql/engine/evaluators.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

namespace sluice::logql::engine {

namespace {

using syntax::BinaryOp;
using syntax::MatchCardinality;
using syntax::VectorOp;

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The labels named in `names` (keep = true) or all but those.
model::LabelSet Project(const model::LabelSet& labels, const std::vector<std::string>& names,
                        bool keep) {
  std::vector<model::Label> out;
  for (const auto& l : labels.labels()) {
    if (Contains(names, l.name) == keep) out.push_back(l);
  }
  return model::LabelSet(std::move(out));
}

// --- Vector aggregation -----------------------------------------------------------------------

class VectorAggregation final : public StepEvaluator {
 public:
  VectorAggregation(const syntax::VectorAggregationExpr& expr, StepEvaluatorPtr inner)
      : op_(expr.op),
        k_(expr.param.value_or(0)),
        without_(expr.grouping.without),
        names_(expr.grouping.labels),
        inner_(std::move(inner)) {}

  bool Next(int64_t* ts_ms, Vector* out) override {
    out->clear();
    if (!inner_->Next(ts_ms, &in_)) return false;
    if ((op_ == VectorOp::kTopK || op_ == VectorOp::kBottomK) && k_ < 1) return true;

    groups_.clear();
    index_.clear();
    // Inputs that build new label sets at every step (binary operations) would only grow the
    // cache.
    if (group_of_.size() > 2 * in_.size() + 1024) group_of_.clear();
    for (const Sample& s : in_) {
      const LabelsRef& key = GroupOf(s.labels);
      Group* g = nullptr;
      auto [slot, added] = index_.try_emplace(key.get(), groups_.size());
      if (!added) g = &groups_[slot->second];
      if (g == nullptr) {
        groups_.push_back(Group{});
        g = &groups_.back();
        g->labels = key;
        g->value = s.value;
        g->mean = s.value;
        g->count = 1;
        if (op_ == VectorOp::kStddev || op_ == VectorOp::kStdvar) g->value = 0;
        if (KeepsSamples()) g->samples.push_back(s);
        continue;
      }
      Add(g, s);
    }
    for (Group& g : groups_) Emit(&g, out);
    return true;
  }
  Status Error() const override { return inner_->Error(); }

 private:
  struct Group {
    LabelsRef labels;
    double value = 0;
    double mean = 0;
    uint64_t count = 0;
    Vector samples;  // topk, bottomk, sort, sort_desc
  };

  bool KeepsSamples() const {
    return op_ == VectorOp::kTopK || op_ == VectorOp::kBottomK || op_ == VectorOp::kSort ||
           op_ == VectorOp::kSortDesc || op_ == VectorOp::kApproxTopK;
  }

  void Add(Group* g, const Sample& s) {
    switch (op_) {
      case VectorOp::kSum:
        g->value += s.value;
        break;
      case VectorOp::kAvg:
        g->count++;
        g->mean += (s.value - g->mean) / static_cast<double>(g->count);
        break;
      case VectorOp::kMax:
        if (g->value < s.value || std::isnan(g->value)) g->value = s.value;
        break;
      case VectorOp::kMin:
        if (g->value > s.value || std::isnan(g->value)) g->value = s.value;
        break;
      case VectorOp::kCount:
        g->count++;
        break;
      case VectorOp::kStddev:
      case VectorOp::kStdvar: {
        g->count++;
        double delta = s.value - g->mean;
        g->mean += delta / static_cast<double>(g->count);
        g->value += delta * (s.value - g->mean);
        break;
      }
      case VectorOp::kTopK:
      case VectorOp::kBottomK:
      case VectorOp::kSort:
      case VectorOp::kSortDesc:
      case VectorOp::kApproxTopK:
        g->samples.push_back(s);
        break;
    }
  }

  // Orders by value (descending when `desc`), NaN last, then by labels so that ties are
  // deterministic. Loki breaks ties by Go map iteration order (random).
  static void SortByValue(Vector* v, bool desc) {
    std::stable_sort(v->begin(), v->end(), [desc](const Sample& a, const Sample& b) {
      bool an = std::isnan(a.value), bn = std::isnan(b.value);
      if (an != bn) return bn;
      if (!an && a.value != b.value) return desc ? a.value > b.value : a.value < b.value;
      return *a.labels < *b.labels;
    });
  }

  void Emit(Group* g, Vector* out) {
    switch (op_) {
      case VectorOp::kAvg:
        g->value = g->mean;
        break;
      case VectorOp::kCount:
        g->value = static_cast<double>(g->count);
        break;
      case VectorOp::kStddev:
        g->value = std::sqrt(g->value / static_cast<double>(g->count));
        break;
      case VectorOp::kStdvar:
        g->value = g->value / static_cast<double>(g->count);
        break;
      case VectorOp::kTopK:
      case VectorOp::kApproxTopK:
      case VectorOp::kBottomK: {
        SortByValue(&g->samples, op_ != VectorOp::kBottomK);
        size_t k =
            static_cast<size_t>(std::min<int64_t>(k_, static_cast<int64_t>(g->samples.size())));
        out->insert(out->end(), g->samples.begin(), g->samples.begin() + static_cast<ptrdiff_t>(k));
        return;
      }
      case VectorOp::kSort:
      case VectorOp::kSortDesc:
        SortByValue(&g->samples, op_ == VectorOp::kSortDesc);
        out->insert(out->end(), g->samples.begin(), g->samples.end());
        return;
      default:
        break;
    }
    out->push_back(Sample{g->labels, g->value});
  }

  // The group of a series, interned: equal group label sets share one LabelsRef. Input series
  // keep their LabelsRef from step to step, so the projection is computed once per series;
  // the cache holds `series` itself, so its address is not reused while cached.
  const LabelsRef& GroupOf(const LabelsRef& series) {
    auto it = group_of_.find(series.get());
    if (it != group_of_.end()) return it->second.second;
    model::LabelSet key = Project(*series, names_, !without_);
    auto& slots = interned_[key.Fingerprint()];
    const LabelsRef* group = nullptr;
    for (const auto& ref : slots) {
      if (*ref == key) group = &ref;
    }
    if (group == nullptr) {
      slots.push_back(std::make_shared<const model::LabelSet>(std::move(key)));
      group = &slots.back();
    }
    return group_of_.emplace(series.get(), std::make_pair(series, *group)).first->second.second;
  }

  VectorOp op_;
  int64_t k_;
  bool without_;
  std::vector<std::string> names_;
  StepEvaluatorPtr inner_;
  Vector in_;
  std::vector<Group> groups_;
  std::unordered_map<const model::LabelSet*, size_t> index_;  // this step's groups_ by labels
  std::unordered_map<uint64_t, std::vector<LabelsRef>> interned_;
  // Input series -> (the series, kept alive; its group).
  std::unordered_map<const model::LabelSet*, std::pair<LabelsRef, LabelsRef>> group_of_;
};

// --- Binary operations ------------------------------------------------------------------------

// The labels a sample is matched on: the on(...) labels, or all but the ignoring(...) ones.
uint64_t Signature(const model::LabelSet& labels, const syntax::VectorMatching& m) {
  if (m.on) return Project(labels, m.labels, true).Fingerprint();
  if (m.labels.empty()) return labels.Fingerprint();
  return Project(labels, m.labels, false).Fingerprint();
}

// Loki's resultMetric: the "many" side's labels (one-to-one: reduced to the matching labels),
// plus the group_x labels taken from the "one" side.
model::LabelSet ResultLabels(const model::LabelSet& lhs, const model::LabelSet& rhs,
                             const syntax::VectorMatching& m) {
  std::vector<model::Label> out;
  for (const auto& l : lhs.labels()) {
    if (m.card == MatchCardinality::kOneToOne) {
      if (m.on ? !Contains(m.labels, l.name) : Contains(m.labels, l.name)) continue;
    }
    if (Contains(m.include, l.name)) continue;
    out.push_back(l);
  }
  for (const auto& name : m.include) {
    const std::string* v = rhs.Get(name);
    if (v != nullptr && !v->empty()) out.push_back(model::Label{name, *v});
  }
  return model::LabelSet(std::move(out));
}

class VectorBinaryOp final : public StepEvaluator {
 public:
  VectorBinaryOp(const syntax::BinaryOpExpr& expr, StepEvaluatorPtr lhs, StepEvaluatorPtr rhs)
      : op_(expr.op),
        return_bool_(expr.return_bool),
        matching_(expr.matching),
        lhs_(std::move(lhs)),
        rhs_(std::move(rhs)) {}

  bool Next(int64_t* ts_ms, Vector* out) override {
    out->clear();
    if (!status_.ok()) return false;
    // Both sides step together; the right one first, as Loki.
    if (!rhs_->Next(ts_ms, &r_)) return false;
    if (!lhs_->Next(ts_ms, &l_)) return false;
    rsigs_.clear();
    lsigs_.clear();
    for (const Sample& s : r_) rsigs_.push_back(Signature(*s.labels, matching_));
    for (const Sample& s : l_) lsigs_.push_back(Signature(*s.labels, matching_));
    switch (op_) {
      case BinaryOp::kAnd:
        And(out);
        break;
      case BinaryOp::kOr:
        Or(out);
        break;
      case BinaryOp::kUnless:
        Unless(out);
        break;
      default:
        status_ = Arithmetic(out);
        if (!status_.ok()) {
          out->clear();
          return false;
        }
    }
    return true;
  }

  Status Error() const override {
    if (!status_.ok()) return status_;
    Status l = lhs_->Error();
    if (!l.ok()) return l;
    return rhs_->Error();
  }

 private:
  void And(Vector* out) {
    if (l_.empty() || r_.empty()) return;
    std::unordered_set<uint64_t> right(rsigs_.begin(), rsigs_.end());
    for (size_t i = 0; i < l_.size(); ++i) {
      if (right.count(lsigs_[i])) out->push_back(l_[i]);
    }
  }
  void Or(Vector* out) {
    if (l_.empty()) {
      *out = r_;
      return;
    }
    if (r_.empty()) {
      *out = l_;
      return;
    }
    std::unordered_set<uint64_t> left(lsigs_.begin(), lsigs_.end());
    *out = l_;
    for (size_t i = 0; i < r_.size(); ++i) {
      if (!left.count(rsigs_[i])) out->push_back(r_[i]);
    }
  }
  void Unless(Vector* out) {
    if (l_.empty() || r_.empty()) {
      *out = l_;
      return;
    }
    std::unordered_set<uint64_t> right(rsigs_.begin(), rsigs_.end());
    for (size_t i = 0; i < l_.size(); ++i) {
      if (!right.count(lsigs_[i])) out->push_back(l_[i]);
    }
  }

  // Loki's vectorBinop.
  Status Arithmetic(Vector* out) {
    const bool one_to_many = matching_.card == MatchCardinality::kOneToMany;
    const Vector& many = one_to_many ? r_ : l_;
    const Vector& one = one_to_many ? l_ : r_;
    const std::vector<uint64_t>& many_sigs = one_to_many ? rsigs_ : lsigs_;
    const std::vector<uint64_t>& one_sigs = one_to_many ? lsigs_ : rsigs_;

    std::unordered_map<uint64_t, size_t> one_by_sig;
    for (size_t i = 0; i < one.size(); ++i) {
      if (!one_by_sig.emplace(one_sigs[i], i).second) {
        return Status::InvalidArgument(fmt::format(
            "found duplicate series on the {} hand-side;many-to-many matching not allowed: "
            "matching labels must be unique on one side",
            one_to_many ? "left" : "right"));
      }
    }
    std::unordered_map<uint64_t, std::unordered_set<uint64_t>> matched;
    const bool filter = !return_bool_;
    for (size_t i = 0; i < many.size(); ++i) {
      auto it = one_by_sig.find(many_sigs[i]);
      if (it == one_by_sig.end()) continue;
      const Sample& ms = many[i];
      const Sample& os = one[it->second];
      model::LabelSet metric = ResultLabels(*ms.labels, *os.labels, matching_);
      auto [slot, fresh] = matched.try_emplace(many_sigs[i]);
      if (matching_.card == MatchCardinality::kOneToOne) {
        if (!fresh) {
          return Status::InvalidArgument(
              "multiple matches for labels: many-to-one matching must be explicit "
              "(group_left/group_right)");
        }
      } else if (!slot->second.insert(metric.Fingerprint()).second) {
        return Status::InvalidArgument(
            "multiple matches for labels: grouping labels must ensure unique matches");
      }
      const Sample& left = one_to_many ? os : ms;
      const Sample& right = one_to_many ? ms : os;
      double v = 0;
      if (!ApplyBinaryOp(op_, left.value, right.value, filter, &v)) continue;
      if (syntax::IsComparison(op_) && filter) v = left.value;
      out->push_back(Sample{Intern(std::move(metric)), v});
    }
    return Status::OK();
  }

  LabelsRef Intern(model::LabelSet labels) {
    uint64_t fp = labels.Fingerprint();
    auto& slots = interned_[fp];
    for (const auto& ref : slots) {
      if (*ref == labels) return ref;
    }
    slots.push_back(std::make_shared<const model::LabelSet>(std::move(labels)));
    return slots.back();
  }

  BinaryOp op_;
  bool return_bool_;
  syntax::VectorMatching matching_;
  StepEvaluatorPtr lhs_, rhs_;
  Vector l_, r_;
  std::vector<uint64_t> lsigs_, rsigs_;
  std::unordered_map<uint64_t, std::vector<LabelsRef>> interned_;
  Status status_;
};

class LiteralBinaryOp final : public StepEvaluator {
 public:
  LiteralBinaryOp(BinaryOp op, bool return_bool, double literal, bool literal_on_left,
                  StepEvaluatorPtr vector)
      : op_(op),
        return_bool_(return_bool),
        literal_(literal),
        literal_on_left_(literal_on_left),
        inner_(std::move(vector)) {}

  bool Next(int64_t* ts_ms, Vector* out) override {
    out->clear();
    if (!inner_->Next(ts_ms, &in_)) return false;
    const bool filter = !return_bool_;
    for (const Sample& s : in_) {
      double l = literal_on_left_ ? literal_ : s.value;
      double r = literal_on_left_ ? s.value : literal_;
      double v = 0;
      if (!ApplyBinaryOp(op_, l, r, filter, &v)) continue;
      // A filtering comparison keeps the vector's sample as it is, whichever side it is on.
      if (syntax::IsComparison(op_) && filter) v = s.value;
      out->push_back(Sample{s.labels, v});
    }
    return true;
  }
  Status Error() const override { return inner_->Error(); }

 private:
  BinaryOp op_;
  bool return_bool_;
  double literal_;
  bool literal_on_left_;
  StepEvaluatorPtr inner_;
  Vector in_;
};

// --- label_replace ----------------------------------------------------------------------------

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Go's regexp.Expand: $1, ${1}, $name, ${name}, $$; a malformed reference is literal text and a
// reference to a group that does not exist (or did not match) is empty.
std::string Expand(std::string_view tmpl, const re2::RE2& re,
                   const std::vector<re2::StringPiece>& groups) {
  std::string out;
  while (!tmpl.empty()) {
    size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out.push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    std::string_view rest = tmpl;
    bool brace = !rest.empty() && rest[0] == '{';
    if (brace) rest.remove_prefix(1);
    size_t n = 0;
    while (n < rest.size() && IsNameChar(rest[n])) ++n;
    if (n == 0 || (brace && (n >= rest.size() || rest[n] != '}'))) {
      out.push_back('$');
      continue;
    }
    std::string_view name = rest.substr(0, n);
    tmpl = rest.substr(n + (brace ? 1 : 0));
    int num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100'000'000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name.size() > 1 && name[0] == '0') num = -1;
    if (num < 0) {
      const auto& named = re.NamedCapturingGroups();
      auto it = named.find(std::string(name));
      if (it != named.end()) num = it->second;
    }
    if (num >= 0 && static_cast<size_t>(num) < groups.size() && groups[num].data() != nullptr) {
      out.append(groups[num].data(), groups[num].size());
    }
  }
  out.append(tmpl);
  return out;
}

class LabelReplace final : public StepEvaluator {
 public:
  LabelReplace(const syntax::LabelReplaceExpr& expr, std::unique_ptr<re2::RE2> re,
               StepEvaluatorPtr inner)
      : dst_(expr.dst),
        replacement_(expr.replacement),
        src_(expr.src),
        re_(std::move(re)),
        inner_(std::move(inner)) {}

  bool Next(int64_t* ts_ms, Vector* out) override {
    out->clear();
    if (!inner_->Next(ts_ms, out)) return false;
    for (Sample& s : *out) s.labels = Replace(s.labels);
    return true;
  }
  Status Error() const override { return inner_->Error(); }

 private:
  LabelsRef Replace(const LabelsRef& in) {
    uint64_t fp = in->Fingerprint();
    auto& slots = cache_[fp];
    for (const auto& [from, to] : slots) {
      if (*from == *in) return to;
    }
    const std::string* v = in->Get(src_);
    std::string src = v != nullptr ? *v : "";
    std::vector<re2::StringPiece> groups(static_cast<size_t>(re_->NumberOfCapturingGroups()) + 1);
    LabelsRef result = in;
    if (re_->Match(src, 0, src.size(), re2::RE2::ANCHOR_BOTH, groups.data(),
                   static_cast<int>(groups.size()))) {
      std::string value = Expand(replacement_, *re_, groups);
      std::vector<model::Label> labels;
      for (const auto& l : in->labels()) {
        if (l.name != dst_) labels.push_back(l);
      }
      if (!value.empty()) labels.push_back(model::Label{dst_, std::move(value)});
      result = std::make_shared<const model::LabelSet>(model::LabelSet(std::move(labels)));
    }
    slots.emplace_back(in, result);
    return result;
  }

  std::string dst_, replacement_, src_;
  std::unique_ptr<re2::RE2> re_;
  StepEvaluatorPtr inner_;
  std::unordered_map<uint64_t, std::vector<std::pair<LabelsRef, LabelsRef>>> cache_;
};

// --- vector() ---------------------------------------------------------------------------------

class ConstantVector final : public StepEvaluator {
 public:
  ConstantVector(double value, const StepParams& p)
      : value_(value),
        labels_(std::make_shared<const model::LabelSet>()),
        step_(p.step_ns == 0 ? 1'000'000 : p.step_ns),
        end_(p.end_ns),
        current_(p.start_ns - step_) {}

  bool Next(int64_t* ts_ms, Vector* out) override {
    out->clear();
    current_ += step_;
    if (current_ > end_) return false;
    *ts_ms = current_ / 1'000'000;
    out->push_back(Sample{labels_, value_});
    return true;
  }
  Status Error() const override { return Status::OK(); }

 private:
  double value_;
  LabelsRef labels_;
  int64_t step_, end_, current_;
};

}  // namespace

bool ApplyBinaryOp(BinaryOp op, double l, double r, bool filter, double* out) {
  auto compare = [&](bool holds) {
    if (!holds && filter) return false;
    *out = holds ? 1 : 0;
    return true;
  };
  switch (op) {
    case BinaryOp::kAdd:
      *out = l + r;
      return true;
    case BinaryOp::kSub:
      *out = l - r;
      return true;
    case BinaryOp::kMul:
      *out = l * r;
      return true;
    case BinaryOp::kDiv:
      *out = r == 0 ? std::numeric_limits<double>::quiet_NaN() : l / r;
      return true;
    case BinaryOp::kMod:
      *out = r == 0 ? std::numeric_limits<double>::quiet_NaN() : std::fmod(l, r);
      return true;
    case BinaryOp::kPow:
      *out = std::pow(l, r);
      return true;
    case BinaryOp::kEq:
      return compare(l == r);
    case BinaryOp::kNe:
      return compare(l != r);
    case BinaryOp::kGt:
      return compare(l > r);
    case BinaryOp::kGe:
      return compare(l >= r);
    case BinaryOp::kLt:
      return compare(l < r);
    case BinaryOp::kLe:
      return compare(l <= r);
    case BinaryOp::kOr:
    case BinaryOp::kAnd:
    case BinaryOp::kUnless:
      return false;
  }
  return false;
}

StepEvaluatorPtr NewVectorAggregation(const syntax::VectorAggregationExpr& expr,
                                      StepEvaluatorPtr inner) {
  return std::make_unique<VectorAggregation>(expr, std::move(inner));
}

StepEvaluatorPtr NewVectorBinaryOp(const syntax::BinaryOpExpr& expr, StepEvaluatorPtr lhs,
                                   StepEvaluatorPtr rhs) {
  return std::make_unique<VectorBinaryOp>(expr, std::move(lhs), std::move(rhs));
}

StepEvaluatorPtr NewLiteralBinaryOp(BinaryOp op, bool return_bool, double literal,
                                    bool literal_on_left, StepEvaluatorPtr vector) {
  return std::make_unique<LiteralBinaryOp>(op, return_bool, literal, literal_on_left,
                                           std::move(vector));
}

Result<StepEvaluatorPtr> NewLabelReplace(const syntax::LabelReplaceExpr& expr,
                                         StepEvaluatorPtr inner) {
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_unique<re2::RE2>("^(?:" + expr.regex + ")$", opts);
  if (!re->ok()) {
    return Status::InvalidArgument("parse error : invalid regex in label_replace: " + re->error());
  }
  return StepEvaluatorPtr(std::make_unique<LabelReplace>(expr, std::move(re), std::move(inner)));
}

StepEvaluatorPtr NewConstantVector(double value, const StepParams& params) {
  return std::make_unique<ConstantVector>(value, params);
}

}  // namespace sluice::logql::engine
