#include "http/query_params.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/duration.h"
#include "gocompat/number.h"
#include "model/labels.h"

namespace sluice::http {

namespace {

constexpr uint32_t kDefaultQueryLimit = 100;
constexpr int64_t kDefaultSince = 3600LL * kNanosPerSecond;
constexpr int64_t kMaxPointsPerSeries = 11000;

// Go's strconv.ParseFloat, except that an overflow reads as ±Inf (which callers reject with
// their own message) rather than failing.
bool ParseFloat(std::string_view s, double* out) {
  return gocompat::ParseFloat(s, out) != gocompat::NumError::kSyntax;
}

constexpr std::string_view kTimestampNaNOrInfMessage = "floating point timestamp is NaN or Inf";
constexpr std::string_view kTimestampOverflowMessage =
    "floating point timestamp exceeds integer range";

// loghttp.parseTimestamp (Loki 3): RFC3339Nano, else a float (seconds, or nanoseconds above
// 1e10, fraction rounded to milliseconds), else an integer (seconds up to 1e10, else ns).
Result<int64_t> ParseLokiTimestamp(const std::string& value, int64_t fallback) {
  if (value.empty()) return fallback;
  bool numeric_start = std::isdigit(static_cast<unsigned char>(value[0])) || value[0] == '-' ||
                       value[0] == '+' || value[0] == '.';
  if (!numeric_start || value.find_first_of("T:") != std::string::npos) {
    auto ts = ParseTimestamp(value);
    if (ts.ok()) return ts;
  }
  if (value.find('.') != std::string::npos) {
    double t = 0;
    if (!ParseFloat(value, &t)) {
      auto ts = ParseTimestamp(value);
      if (ts.ok()) return ts;
      return gocompat::NumErrorStatus("ParseFloat", value, gocompat::NumError::kSyntax);
    }
    if (std::isnan(t) || std::isinf(t))
      return Status::InvalidArgument(std::string(kTimestampNaNOrInfMessage));
    double high = std::trunc(t), low = t - high;
    if (high > 9.2e18 || high < -9.2e18)
      return Status::InvalidArgument(std::string(kTimestampOverflowMessage));
    if (high <= 1e10) {
      low = std::round(low * 1000) / 1000;
      return static_cast<int64_t>(high) * kNanosPerSecond + static_cast<int64_t>(low * 1e9);
    }
    return static_cast<int64_t>(high);
  }
  int64_t v = 0;
  if (gocompat::NumError e = gocompat::ParseInt(value, 10, &v); e != gocompat::NumError::kNone) {
    auto ts = ParseTimestamp(value);
    if (ts.ok()) return ts;
    return gocompat::NumErrorStatus("ParseInt", value, e);
  }
  if (v <= 10'000'000'000LL) {
    if (v > std::numeric_limits<int64_t>::max() / kNanosPerSecond ||
        v < std::numeric_limits<int64_t>::min() / kNanosPerSecond) {
      return gocompat::NumErrorStatus("ParseInt", value, gocompat::NumError::kRange);
    }
    return v * kNanosPerSecond;
  }
  return v;
}

constexpr std::string_view kNonPositiveLimitMessage = "limit must be a positive value";

Result<uint32_t> ParseLimit(const Request& request) {
  std::string v = request.Param("limit");
  if (v.empty()) return kDefaultQueryLimit;
  int64_t l = 0;
  if (gocompat::NumError e = gocompat::ParseInt(v, 10, &l); e != gocompat::NumError::kNone) {
    return gocompat::NumErrorStatus("Atoi", v, e);
  }
  if (l <= 0) return Status::InvalidArgument(std::string(kNonPositiveLimitMessage));
  return static_cast<uint32_t>(std::min<int64_t>(l, std::numeric_limits<uint32_t>::max()));
}

constexpr std::string_view kInvalidDirectionFormat = "invalid direction '{}'";

Result<model::Direction> ParseDirection(const Request& request) {
  std::string v = request.Param("direction");
  if (v.empty()) return model::Direction::kBackward;
  std::string upper;
  for (char c : v) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (upper == "FORWARD") return model::Direction::kForward;
  if (upper == "BACKWARD") return model::Direction::kBackward;
  return Status::InvalidArgument(fmt::format(kInvalidDirectionFormat, v));
}

constexpr std::string_view kDurationOverflowFormat =
    "cannot parse {} to a valid duration. It overflows int64";
constexpr std::string_view kInvalidDurationFormat = "cannot parse {} to a valid duration";

// loghttp.parseSecondsOrDuration: float seconds, else a Prometheus duration.
Result<int64_t> ParseSecondsOrDuration(const std::string& value) {
  double secs = 0;
  if (ParseFloat(value, &secs)) {
    double ns = secs * 1e9;
    if (ns > 9.2e18 || ns < -9.2e18) {
      return Status::InvalidArgument(
          fmt::format(kDurationOverflowFormat, model::QuoteString(value)));
    }
    return static_cast<int64_t>(ns);
  }
  auto d = ParseDuration(value);
  if (d.ok()) return d;
  return Status::InvalidArgument(fmt::format(kInvalidDurationFormat, model::QuoteString(value)));
}

Status Wrap(std::string_view what, const Status& st) {
  return Status::InvalidArgument(fmt::format("{}: {}", what, st.message()));
}

}  // namespace

// Errors of the bounds: the cause follows "<context>: ".
constexpr std::string_view kInvalidSinceFormat =
    "could not parse 'since' parameter: not a valid duration string: {}";
constexpr std::string_view kBadEndContext = "could not parse 'end' parameter";
constexpr std::string_view kBadStartContext = "could not parse 'start' parameter";

Status ParseBounds(const Request& request, int64_t now_ns, int64_t* start_ns, int64_t* end_ns) {
  int64_t since = kDefaultSince;
  std::string since_str = request.Param("since");
  if (!since_str.empty()) {
    auto d = ParseDuration(since_str);
    if (!d.ok()) {
      return Status::InvalidArgument(
          fmt::format(kInvalidSinceFormat, model::QuoteString(since_str)));
    }
    since = *d;
  }
  auto end = ParseLokiTimestamp(request.Param("end"), now_ns);
  if (!end.ok()) return Wrap(kBadEndContext, end.status());
  int64_t end_or_now = std::min(*end, now_ns);
  auto start = ParseLokiTimestamp(request.Param("start"), end_or_now - since);
  if (!start.ok()) return Wrap(kBadStartContext, start.status());
  *start_ns = *start;
  *end_ns = *end;
  return Status::OK();
}

constexpr std::string_view kEndBeforeStartMessage =
    "end timestamp must not be before or equal to start time";
constexpr std::string_view kNonPositiveStepMessage =
    "zero or negative query resolution step widths are not accepted. Try a positive integer";
constexpr std::string_view kTooManyPointsMessage =
    "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the "
    "step parameter";
constexpr std::string_view kNegativeIntervalMessage = "interval must be >= 0";

Result<querier::QueryRequest> ParseRangeQuery(const Request& request, int64_t now_ns) {
  querier::QueryRequest q;
  q.query = request.Param("query");
  SLUICE_RETURN_IF_ERROR(ParseBounds(request, now_ns, &q.start_ns, &q.end_ns));
  if (q.end_ns < q.start_ns) return Status::InvalidArgument(std::string(kEndBeforeStartMessage));
  SLUICE_ASSIGN_OR_RETURN(q.limit, ParseLimit(request));
  SLUICE_ASSIGN_OR_RETURN(q.direction, ParseDirection(request));
  std::string step = request.Param("step");
  if (step.empty()) {
    q.step_ns =
        std::max<int64_t>((q.end_ns - q.start_ns) / kNanosPerSecond / 250, 1) * kNanosPerSecond;
  } else {
    SLUICE_ASSIGN_OR_RETURN(q.step_ns, ParseSecondsOrDuration(step));
  }
  if (q.step_ns <= 0) return Status::InvalidArgument(std::string(kNonPositiveStepMessage));
  if ((q.end_ns - q.start_ns) / q.step_ns > kMaxPointsPerSeries) {
    return Status::InvalidArgument(std::string(kTooManyPointsMessage));
  }
  std::string interval = request.Param("interval");
  if (!interval.empty()) {
    SLUICE_ASSIGN_OR_RETURN(q.interval_ns, ParseSecondsOrDuration(interval));
  }
  if (q.interval_ns < 0) return Status::InvalidArgument(std::string(kNegativeIntervalMessage));
  return q;
}

constexpr std::string_view kInvalidInstantSinceFormat = "invalid since duration: {}";

Result<querier::QueryRequest> ParseInstantQuery(const Request& request, int64_t now_ns) {
  querier::QueryRequest q;
  q.query = request.Param("query");
  SLUICE_ASSIGN_OR_RETURN(q.limit, ParseLimit(request));
  SLUICE_ASSIGN_OR_RETURN(q.end_ns, ParseLokiTimestamp(request.Param("time"), now_ns));
  // A log query at an instant reads back from `time` over `since` (default 1h), like Loki 2.x's
  // instant log queries; `time` itself is included.
  int64_t lookback = int64_t{3600} * 1'000'000'000;
  std::string since = request.Param("since");
  if (!since.empty()) {
    auto d = ParseDuration(since);
    if (!d.ok() || *d <= 0) {
      return Status::InvalidArgument(fmt::format(kInvalidInstantSinceFormat, since));
    }
    lookback = *d;
  }
  q.start_ns = q.end_ns - lookback;
  q.end_ns += 1;
  SLUICE_ASSIGN_OR_RETURN(q.direction, ParseDirection(request));
  q.instant = true;
  return q;
}

constexpr uint32_t kDefaultDetectedFieldsLimit = 1000;
constexpr std::string_view kOutOfRangeFormat = "{} value {} is out of range [0, {}]";

// loghttp's lineLimit / detectedFieldsLimit: a positive integer that fits 32 bits.
Result<uint32_t> ParseCount(const std::string& value, std::string_view name, uint32_t fallback) {
  if (value.empty()) return fallback;
  int64_t l = 0;
  if (gocompat::NumError e = gocompat::ParseInt(value, 10, &l); e != gocompat::NumError::kNone) {
    return gocompat::NumErrorStatus("Atoi", value, e);
  }
  if (l <= 0) return Status::InvalidArgument(std::string(kNonPositiveLimitMessage));
  constexpr uint32_t kMax = std::numeric_limits<uint32_t>::max();
  if (l > int64_t{kMax})
    return Status::InvalidArgument(fmt::format(kOutOfRangeFormat, name, l, kMax));
  return static_cast<uint32_t>(l);
}

Result<querier::DetectedFieldsRequest> ParseDetectedFieldsQuery(const Request& request,
                                                                int64_t now_ns) {
  querier::DetectedFieldsRequest q;
  q.query = request.Param("query");
  SLUICE_RETURN_IF_ERROR(ParseBounds(request, now_ns, &q.start_ns, &q.end_ns));
  if (q.end_ns < q.start_ns) return Status::InvalidArgument(std::string(kEndBeforeStartMessage));
  SLUICE_ASSIGN_OR_RETURN(
      q.line_limit, ParseCount(request.Param("line_limit"), "line_limit", kDefaultQueryLimit));
  // `field_limit` is the older name Loki still reads when `limit` is absent.
  std::string limit = request.Param("limit");
  if (limit.empty()) limit = request.Param("field_limit");
  SLUICE_ASSIGN_OR_RETURN(q.limit, ParseCount(limit, "limit", kDefaultDetectedFieldsLimit));
  int64_t step_ns = 0;
  std::string step = request.Param("step");
  if (step.empty()) {
    step_ns =
        std::max<int64_t>((q.end_ns - q.start_ns) / kNanosPerSecond / 250, 1) * kNanosPerSecond;
  } else {
    SLUICE_ASSIGN_OR_RETURN(step_ns, ParseSecondsOrDuration(step));
  }
  // Loki keeps the step in whole milliseconds: a smaller one is zero.
  if (step_ns / 1'000'000 <= 0)
    return Status::InvalidArgument(std::string(kNonPositiveStepMessage));
  if ((q.end_ns - q.start_ns) / step_ns > kMaxPointsPerSeries) {
    return Status::InvalidArgument(std::string(kTooManyPointsMessage));
  }
  return q;
}

Status ParseDetectedLabelsBounds(const Request& request, int64_t now_ns, int64_t* start_ns,
                                 int64_t* end_ns) {
  SLUICE_RETURN_IF_ERROR(ParseBounds(request, now_ns, start_ns, end_ns));
  if (*end_ns < *start_ns) return Status::InvalidArgument(std::string(kEndBeforeStartMessage));
  return Status::OK();
}

}  // namespace sluice::http
