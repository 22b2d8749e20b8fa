#include "logql/log/label_filter.h"

#include <string>

#include "gocompat/duration.h"
#include "gocompat/number.h"
#include "logql/log/ip.h"

namespace sluice::logql::log {

namespace {

template <typename T>
bool Compare(syntax::CompareOp op, T a, T b) {
  switch (op) {
    case syntax::CompareOp::kEq:
      return a == b;
    case syntax::CompareOp::kNe:
      return a != b;
    case syntax::CompareOp::kGt:
      return a > b;
    case syntax::CompareOp::kGe:
      return a >= b;
    case syntax::CompareOp::kLt:
      return a < b;
    case syntax::CompareOp::kLe:
      return a <= b;
  }
  return false;
}

class StringFilter final : public LabelFilterNode {
 public:
  explicit StringFilter(model::LabelMatcher m)
      : matcher_(std::move(m)), is_error_(matcher_.name() == kErrorLabel) {}
  bool Matches(LabelsBuilder* lbs) override {
    if (is_error_) return matcher_.Matches(lbs->GetErr());
    const std::string* v = lbs->Get(matcher_.name());
    return matcher_.Matches(v == nullptr ? std::string_view() : std::string_view(*v));
  }

 private:
  model::LabelMatcher matcher_;
  bool is_error_;
};

// Numeric, duration and bytes filters: convert, then compare. `Parse` is one of go_values.h.
template <typename T, bool (*Parse)(std::string_view, T*, std::string*)>
class ConvertingFilter final : public LabelFilterNode {
 public:
  ConvertingFilter(std::string name, syntax::CompareOp op, T value)
      : name_(std::move(name)), op_(op), value_(value) {}
  bool Matches(LabelsBuilder* lbs) override {
    const std::string* v = lbs->Get(name_);
    if (v == nullptr) return false;
    T got{};
    if (!Parse(*v, &got, &err_)) {
      // Loki does not overwrite what may be a more useful earlier error.
      if (!lbs->HasErr()) {
        lbs->SetErr(kErrLabelFilter);
        lbs->SetErrorDetails(err_);
      }
      return true;
    }
    return Compare(op_, got, value_);
  }

 private:
  std::string name_;
  syntax::CompareOp op_;
  T value_;
  std::string err_;
};

class IpFilter final : public LabelFilterNode {
 public:
  IpFilter(std::string name, bool negated, IpMatcher m)
      : name_(std::move(name)), negated_(negated), matcher_(std::move(m)) {}
  bool Matches(LabelsBuilder* lbs) override {
    if (lbs->HasErr()) return true;  // Loki: only string filters filter out errors
    const std::string* v = lbs->Get(name_);
    if (v == nullptr) return false;
    return matcher_.MatchesIn(*v) != negated_;
  }

 private:
  std::string name_;
  bool negated_;
  IpMatcher matcher_;
};

class BinaryFilter final : public LabelFilterNode {
 public:
  BinaryFilter(bool is_and, LabelFilterNodePtr l, LabelFilterNodePtr r)
      : is_and_(is_and), left_(std::move(l)), right_(std::move(r)) {}
  bool Matches(LabelsBuilder* lbs) override {
    bool l = left_->Matches(lbs);
    if (!is_and_ && l) return true;
    bool r = right_->Matches(lbs);
    return is_and_ ? l && r : l || r;
  }

 private:
  bool is_and_;
  LabelFilterNodePtr left_;
  LabelFilterNodePtr right_;
};

class LabelFilterStage final : public Stage {
 public:
  explicit LabelFilterStage(LabelFilterNodePtr f) : filter_(std::move(f)) {}
  bool Process(int64_t, std::string_view*, LabelsBuilder* lbs) override {
    return filter_->Matches(lbs);
  }

 private:
  LabelFilterNodePtr filter_;
};

bool ParseFloat(std::string_view s, double* out, std::string* err) {
  const gocompat::NumError e = gocompat::ParseFloat(s, out);
  if (e == gocompat::NumError::kNone) return true;
  *err = gocompat::NumErrorText("ParseFloat", s, e);
  return false;
}

}  // namespace

Result<LabelFilterNodePtr> CompileLabelFilter(const syntax::LabelFilter& f) {
  switch (f.kind()) {
    case syntax::LabelFilterKind::kString:
      return LabelFilterNodePtr(
          std::make_unique<StringFilter>(f.Cast<syntax::StringLabelFilter>().matcher));
    case syntax::LabelFilterKind::kNumeric: {
      const auto& n = f.Cast<syntax::NumericLabelFilter>();
      return LabelFilterNodePtr(
          std::make_unique<ConvertingFilter<double, ParseFloat>>(n.name, n.op, n.value));
    }
    case syntax::LabelFilterKind::kDuration: {
      const auto& d = f.Cast<syntax::DurationLabelFilter>();
      return LabelFilterNodePtr(
          std::make_unique<ConvertingFilter<int64_t, gocompat::ParseDuration>>(d.name, d.op,
                                                                               d.nanos));
    }
    case syntax::LabelFilterKind::kBytes: {
      const auto& b = f.Cast<syntax::BytesLabelFilter>();
      return LabelFilterNodePtr(
          std::make_unique<ConvertingFilter<uint64_t, gocompat::ParseHumanizeBytes>>(b.name, b.op,
                                                                                     b.bytes));
    }
    case syntax::LabelFilterKind::kIp: {
      const auto& ip = f.Cast<syntax::IpLabelFilter>();
      SLUICE_ASSIGN_OR_RETURN(IpMatcher m, IpMatcher::Parse(ip.pattern));
      return LabelFilterNodePtr(std::make_unique<IpFilter>(ip.name, ip.negated, std::move(m)));
    }
    case syntax::LabelFilterKind::kBinary: {
      const auto& b = f.Cast<syntax::BinaryLabelFilter>();
      SLUICE_ASSIGN_OR_RETURN(LabelFilterNodePtr l, CompileLabelFilter(*b.left));
      SLUICE_ASSIGN_OR_RETURN(LabelFilterNodePtr r, CompileLabelFilter(*b.right));
      return LabelFilterNodePtr(
          std::make_unique<BinaryFilter>(b.is_and, std::move(l), std::move(r)));
    }
  }
  return Status::InvalidArgument("unsupported label filter");
}

Result<StagePtr> NewLabelFilterStage(const syntax::LabelFilter& filter) {
  SLUICE_ASSIGN_OR_RETURN(LabelFilterNodePtr f, CompileLabelFilter(filter));
  return StagePtr(std::make_unique<LabelFilterStage>(std::move(f)));
}

}  // namespace sluice::logql::log
