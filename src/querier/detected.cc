#include "querier/detected.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "common/check.h"
#include "gocompat/duration.h"
#include "gocompat/number.h"
#include "logql/log/labels_builder.h"
#include "logql/log/parsers.h"
#include "logql/syntax/ast.h"

namespace sluice::querier {

namespace {

constexpr std::string_view kJsonParser = "json";
constexpr std::string_view kLogfmtParser = "logfmt";

// Loki's text when detected_fields gets a metric query (syntax.ParseLogSelector).
constexpr std::string_view kNotLogSelectorMessage = "only log selector is supported";

// Loki's staticLabels in SingleTenantQuerier.DetectedLabels.
constexpr std::string_view kStaticLabels[] = {"cluster", "namespace", "instance", "pod"};

// Units after which detected_field values are rewritten to go-humanize's form (Loki's
// allowedBytesUnits): a value must end with one of them, any case.
constexpr std::string_view kBytesUnits[] = {
    "b",  "kib", "kb", "mib", "mb", "gib", "gb", "tib", "tb", "pib", "pb", "eib", "eb",
    "ki", "k",   "mi", "m",   "gi", "g",   "ti", "t",   "pi", "p",   "ei", "e"};

bool IsErrorLabel(std::string_view name) {
  return name == logql::log::kErrorLabel || name == logql::log::kErrorDetailsLabel ||
         name == logql::log::kPreserveErrorLabel;
}

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// github.com/google/uuid Parse: 8-4-4-4-12 hex digits, optionally in braces or after
// "urn:uuid:", or 32 hex digits without dashes.
bool IsUuid(std::string_view s) {
  if (s.size() == 45) {
    std::string prefix(s.substr(0, 9));
    std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (prefix != "urn:uuid:") return false;
    s.remove_prefix(9);
  } else if (s.size() == 38) {
    if (s.front() != '{' || s.back() != '}') return false;
    s = s.substr(1, 36);
  } else if (s.size() == 32) {
    return std::all_of(s.begin(), s.end(), IsHex);
  }
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

// Loki's containsAllIDTypes: every value is a number (Go's ParseFloat) or a UUID.
bool AllIds(const std::set<std::string, std::less<>>& values) {
  for (const auto& v : values) {
    double f = 0;
    if (gocompat::ParseFloat(v, &f) != gocompat::NumError::kNone && !IsUuid(v)) return false;
  }
  return true;
}

// A byte size with a unit ("1.5 KB") in go-humanize's SI form without the space ("1.5kB"),
// as Loki rewrites detected_field values; other values as they are.
std::string NormalizeValue(std::string_view value) {
  uint64_t bytes = 0;
  std::string err;
  if (!gocompat::ParseHumanizeBytes(value, &bytes, &err)) return std::string(value);
  std::string lower(value);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view unit : kBytesUnits) {
    if (lower.ends_with(unit)) {
      std::string out = gocompat::FormatHumanizeBytes(bytes);
      if (size_t space = out.find(' '); space != std::string::npos) out.erase(space, 1);
      return out;
    }
  }
  return std::string(value);
}

// The distinct names of `labels` in first-seen order, each with its values.
std::vector<std::pair<std::string_view, std::vector<std::string_view>>> GroupByName(
    const std::vector<model::Label>& labels) {
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> out;
  for (const auto& l : labels) {
    auto it =
        std::find_if(out.begin(), out.end(), [&](const auto& g) { return g.first == l.name; });
    if (it == out.end()) {
      out.emplace_back(l.name, std::vector<std::string_view>{l.value});
    } else {
      it->second.push_back(l.value);
    }
  }
  return out;
}

}  // namespace

// One entry's parsed labels, as Loki's parseEntry finds them: the labels the query's own stages
// set, then the line read by the json stage or, when that sets an error, by logfmt (non-strict,
// empty values dropped: Loki's NewLogfmtParser(false, false)). The stream labels are the
// builder's base, so keys equal to one of them come out as `<key>_extracted`.
class EntryParser {
 public:
  EntryParser() : json_(logql::log::NewJsonParserWithPaths(&paths_)) {
    auto logfmt =
        logql::log::NewParserStage(logql::syntax::ParserStage(logql::syntax::ParserKind::kLogfmt));
    SLUICE_CHECK(logfmt.ok());
    logfmt_ = std::move(*logfmt);
  }

  // The results stay valid until the next Parse. REQUIRES: `stream` and `entry` outlive them.
  void Parse(const model::LabelSet& stream, const model::Entry& entry) {
    labels_.clear();
    for (const auto& l : entry.parsed) {
      if (!IsErrorLabel(l.name)) labels_.push_back(l);
    }
    builder_.Reset(&stream, nullptr);
    std::string_view line = entry.line;
    json_->Process(entry.timestamp_ns, &line, &builder_);
    parser_ = kJsonParser;
    if (builder_.HasErr()) {
      paths_.clear();
      builder_.Reset(&stream, nullptr);
      line = entry.line;
      logfmt_->Process(entry.timestamp_ns, &line, &builder_);
      parser_ = kLogfmtParser;
      // Non-strict logfmt never fails; kept for the contract Loki's code states.
      if (builder_.HasErr()) {
        parser_ = {};
        return;
      }
    }
    builder_.Categorize(&metadata_scratch_, &parsed_scratch_);
    for (auto& l : parsed_scratch_) {
      if (!IsErrorLabel(l.name)) labels_.push_back(std::move(l));
    }
  }

  // The entry's parsed labels; a name may repeat (the query and the line both set it).
  const std::vector<model::Label>& labels() const { return labels_; }
  // "json", "logfmt", or empty when neither could read the line.
  std::string_view parser() const { return parser_; }
  // The json path of a label the line's json parse set, or nullptr.
  const std::vector<std::string>* PathOf(std::string_view name) const {
    for (const auto& [label, path] : paths_) {
      if (label == name) return &path;
    }
    return nullptr;
  }

 private:
  logql::log::JsonPaths paths_;
  logql::log::StagePtr json_;
  logql::log::StagePtr logfmt_;
  logql::log::LabelsBuilder builder_;
  std::string_view parser_;
  std::vector<model::Label> labels_;
  std::vector<model::Label> metadata_scratch_;
  std::vector<model::Label> parsed_scratch_;
};

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kString:
      return "string";
    case FieldType::kInt:
      return "int";
    case FieldType::kFloat:
      return "float";
    case FieldType::kBoolean:
      return "boolean";
    case FieldType::kDuration:
      return "duration";
    case FieldType::kBytes:
      return "bytes";
  }
  return "string";
}

FieldType DetectFieldType(std::string_view value) {
  int64_t i = 0;
  if (gocompat::ParseInt(value, 10, &i) == gocompat::NumError::kNone) return FieldType::kInt;
  double f = 0;
  if (gocompat::ParseFloat(value, &f) == gocompat::NumError::kNone) return FieldType::kFloat;
  bool b = false;
  if (gocompat::ParseBool(value, &b)) return FieldType::kBoolean;
  int64_t ns = 0;
  std::string err;
  if (gocompat::ParseDuration(value, &ns, &err)) return FieldType::kDuration;
  uint64_t bytes = 0;
  if (gocompat::ParseHumanizeBytes(value, &bytes, &err)) return FieldType::kBytes;
  return FieldType::kString;
}

FieldDetector::FieldDetector(uint32_t limit)
    : limit_(limit), parser_(std::make_unique<EntryParser>()) {}

FieldDetector::~FieldDetector() = default;

FieldDetector::Field* FieldDetector::Find(std::string_view name, bool* created) {
  *created = false;
  auto it = fields_.find(name);
  if (it != fields_.end()) return &it->second;
  if (fields_.size() >= limit_) return nullptr;
  *created = true;
  return &fields_.emplace(std::string(name), Field{}).first->second;
}

void FieldDetector::Add(const model::LabelSet& stream, const model::Entry& entry) {
  bool created = false;
  for (const auto& [name, values] : GroupByName(entry.metadata)) {
    Field* f = Find(name, &created);
    if (f == nullptr) continue;
    // Loki re-detects the type from each entry's first value: the last entry read decides.
    f->type = DetectFieldType(values.front());
    for (std::string_view v : values) f->values.emplace(v);
  }
  parser_->Parse(stream, entry);
  const std::string_view parser = parser_->parser();
  for (const auto& [name, values] : GroupByName(parser_->labels())) {
    Field* f = Find(name, &created);
    if (f == nullptr) continue;
    if (!parser.empty() &&
        std::find(f->parsers.begin(), f->parsers.end(), parser) == f->parsers.end()) {
      f->parsers.emplace_back(parser);
    }
    if (parser == kJsonParser) {
      const std::vector<std::string>* path = parser_->PathOf(name);
      f->json_path = path != nullptr ? *path : std::vector<std::string>{};
    }
    f->type = DetectFieldType(values.front());
    for (std::string_view v : values) f->values.emplace(v);
  }
}

std::vector<DetectedField> FieldDetector::Fields() const {
  std::vector<DetectedField> out;
  out.reserve(fields_.size());
  for (const auto& [name, f] : fields_) {
    out.push_back({name, f.type, f.values.size(), f.parsers, f.json_path});
  }
  return out;
}

FieldValueCollector::FieldValueCollector(std::string name, uint32_t limit)
    : name_(std::move(name)), limit_(limit), parser_(std::make_unique<EntryParser>()) {}

FieldValueCollector::~FieldValueCollector() = default;

void FieldValueCollector::Add(const model::LabelSet& stream, const model::Entry& entry) {
  for (const auto& l : entry.metadata) {
    if (l.name == name_ && !full()) values_.insert(l.value);
  }
  if (full()) return;
  parser_->Parse(stream, entry);
  for (const auto& l : parser_->labels()) {
    if (l.name == name_ && !full()) values_.insert(NormalizeValue(l.value));
  }
}

bool ShouldRejectLabel(const std::set<std::string, std::less<>>& values) {
  if (values.empty()) return true;
  if (values.size() > 2) return AllIds(values);
  for (const auto& v : values) {
    // A 0/1 flag is not an id.
    if (v != "0" && v != "1") return AllIds(values);
  }
  return false;
}

namespace {

// The log query's newest lines with their labels categorized, as Loki's detected fields
// handler requests them from its query path.
Result<QueryResult> ReadLines(Querier* querier, const std::vector<std::string>& tenants,
                              const DetectedFieldsRequest& req) {
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<const logql::syntax::Expr> plan, ParseQuery(req.query));
  if (plan->IsSample()) return Status::InvalidArgument(std::string(kNotLogSelectorMessage));
  QueryRequest q;
  q.query = req.query;
  q.plan = std::move(plan);
  q.start_ns = req.start_ns;
  q.end_ns = req.end_ns;
  q.limit = req.line_limit;
  q.direction = model::Direction::kBackward;
  q.categorize_labels = true;
  return querier->Exec(tenants, q);
}

}  // namespace

Result<std::vector<DetectedField>> DetectFields(Querier* querier,
                                                const std::vector<std::string>& tenants,
                                                const DetectedFieldsRequest& req) {
  SLUICE_ASSIGN_OR_RETURN(QueryResult result, ReadLines(querier, tenants, req));
  FieldDetector detector(req.limit);
  for (const auto& stream : result.streams) {
    for (const auto& entry : stream.entries) detector.Add(stream.labels, entry);
  }
  return detector.Fields();
}

Result<std::vector<std::string>> DetectFieldValues(Querier* querier,
                                                   const std::vector<std::string>& tenants,
                                                   const DetectedFieldsRequest& req,
                                                   std::string_view name) {
  SLUICE_ASSIGN_OR_RETURN(QueryResult result, ReadLines(querier, tenants, req));
  FieldValueCollector collector(std::string(name), req.limit);
  for (const auto& stream : result.streams) {
    for (const auto& entry : stream.entries) {
      if (collector.full()) break;
      collector.Add(stream.labels, entry);
    }
  }
  return collector.Values();
}

Result<std::vector<DetectedLabel>> DetectLabels(Querier* querier,
                                                const std::vector<std::string>& tenants,
                                                std::string_view selector, int64_t start_ns,
                                                int64_t end_ns) {
  std::vector<std::string> match;
  if (!selector.empty()) match.emplace_back(selector);
  SLUICE_ASSIGN_OR_RETURN(std::vector<model::LabelSet> series,
                          querier->Series(tenants, match, start_ns, end_ns));
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> values;
  for (const auto& s : series) {
    for (const auto& l : s.labels()) values[l.name].insert(l.value);
  }
  std::vector<DetectedLabel> out;
  for (const auto& [name, vals] : values) {
    const bool is_static = std::find(std::begin(kStaticLabels), std::end(kStaticLabels), name) !=
                           std::end(kStaticLabels);
    if ((is_static && !vals.empty()) || !ShouldRejectLabel(vals)) {
      out.push_back({name, vals.size()});
    }
  }
  return out;
}

}  // namespace sluice::querier
