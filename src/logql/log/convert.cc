#include "logql/log/convert.h"

#include <string>

#include "gocompat/duration.h"
#include "gocompat/number.h"

namespace sluice::logql::log {

// The Go conversions are gocompat's, shared with the label filters and templates; here they only
// take the shapes the engine's callers want.

Result<double> GoParseFloat(std::string_view s) {
  double v;
  const gocompat::NumError e = gocompat::ParseFloat(s, &v);
  if (e != gocompat::NumError::kNone) return gocompat::NumErrorStatus("ParseFloat", s, e);
  return v;
}

Result<double> GoParseDurationSeconds(std::string_view s) {
  int64_t nanos;
  std::string err;
  if (!gocompat::ParseDuration(s, &nanos, &err)) return Status::InvalidArgument(std::move(err));
  // As Go's Duration.Seconds(): whole seconds plus the fraction, so large values keep precision.
  return static_cast<double>(nanos / 1'000'000'000) +
         static_cast<double>(nanos % 1'000'000'000) / 1e9;
}

Result<double> HumanizeParseBytes(std::string_view s) {
  uint64_t bytes;
  std::string err;
  if (!gocompat::ParseHumanizeBytes(s, &bytes, &err))
    return Status::InvalidArgument(std::move(err));
  return static_cast<double>(bytes);
}

Result<double> ConvertUnwrapped(syntax::UnwrapConversion conversion, std::string_view value) {
  switch (conversion) {
    case syntax::UnwrapConversion::kNone:
      return GoParseFloat(value);
    case syntax::UnwrapConversion::kBytes:
      return HumanizeParseBytes(value);
    case syntax::UnwrapConversion::kDuration:
    case syntax::UnwrapConversion::kDurationSeconds:
      return GoParseDurationSeconds(value);
  }
  return GoParseFloat(value);
}

}  // namespace sluice::logql::log
