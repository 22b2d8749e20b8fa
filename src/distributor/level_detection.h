#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/labels.h"

namespace sluice::distributor {

// Loki 3's log level discovery (`discover_log_levels`; pkg/distributor/field_detection.go,
// v3.7): every pushed entry gets the structured metadata `detected_level`, taken from the first
// source that has one:
//   1. a stream label named in `log_level_fields` (the list's order decides), normalised;
//   2. a structured metadata entry named in that list (OTLP's `severity_text` is one), normalised;
//   3. OTLP's `severity_number` metadata, by the OpenTelemetry ranges;
//   4. the line: a JSON object's string field named in the list (exact name, nested objects up to
//      `log_level_from_json_max_depth`), else a logfmt key (any case) when the line has a `=`,
//      else, or when that value is not a level, the first level word standing alone in the text;
//      "unknown" when there is none.
// An entry that already carries `detected_level` keeps it, normalised.

inline constexpr std::string_view kDetectedLevelLabel = "detected_level";
inline constexpr std::string_view kLevelUnknown = "unknown";

// Loki's spellings folded to its canonical levels (trace, debug, info, warn, error, critical,
// fatal), ignoring case: "WARNING" -> "warn", "err" -> "error", "inf" -> "info". Anything else
// comes back unchanged (Loki keeps a custom level such as "notice" as written).
std::string_view NormalizeLevel(std::string_view level);

// A canonical level (not "unknown") when `level` is one of the spellings NormalizeLevel folds,
// else empty.
std::string_view KnownLevel(std::string_view level);

// OTLP's severity_number as text: 1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20 error,
// 21-24 fatal, 0 or above 24 unknown; text that is not an integer counts as info (as in Loki).
std::string_view LevelFromSeverityNumber(std::string_view number);

// The first of Loki's level words (trace, debug, fatal, critical, error, err, warning, warn,
// info) found in the text, any case, between word boundaries; "unknown" when there is none.
std::string_view LevelFromText(std::string_view line);

// One tenant's settings, built once per push. Thread-compatible; the detector is immutable.
class LevelDetector {
 public:
  LevelDetector(const std::vector<std::string>& fields, int json_max_depth);

  // The normalised value of the first `fields` name the stream's labels have; empty when none.
  // The view points into `labels` or at a constant.
  std::string_view FromLabels(const model::LabelSet& labels) const;

  // Sources 2-4 for one entry (call when FromLabels found nothing). Never empty except when a
  // metadata field that names the level is empty (Loki then adds nothing). The view points into
  // `metadata` or at a constant.
  std::string_view FromEntry(std::span<const model::Label> metadata, std::string_view line) const;

  // Source 4 alone.
  std::string_view FromLine(std::string_view line) const;

 private:
  std::string_view FromJson(std::string_view line) const;
  std::string_view FromLogfmt(std::string_view line) const;
  // Whether any field name occurs in the line (any case): a cheap test that lets a line without
  // one skip the JSON and logfmt scans, which could not find a level in it.
  bool MayHaveField(std::string_view line) const;

  std::vector<std::string> fields_;
  int json_max_depth_;
  // Lower-case field names, none containing another: what MayHaveField looks for.
  std::vector<std::string> needles_;
  std::array<bool, 256> initials_ = {};  // the needles' first bytes, both cases
};

}  // namespace sluice::distributor
