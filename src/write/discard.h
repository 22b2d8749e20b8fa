#pragma once

#include <string>
#include <string_view>

namespace sluice::write {

// Why a line was not stored: the `reason` label of loki_discarded_samples_total, as in Loki.
namespace reason {
inline constexpr std::string_view kRateLimited = "rate_limited";
inline constexpr std::string_view kLineTooLong = "line_too_long";
inline constexpr std::string_view kStreamLimit = "stream_limit";
inline constexpr std::string_view kPerStreamRateLimit = "per_stream_rate_limit";
inline constexpr std::string_view kOutOfOrder = "out_of_order";
inline constexpr std::string_view kTooFarBehind = "too_far_behind";
inline constexpr std::string_view kGreaterThanMaxSampleAge = "greater_than_max_sample_age";
inline constexpr std::string_view kTooFarInFuture = "too_far_in_future";
inline constexpr std::string_view kMaxLabelNamesPerSeries = "max_label_names_per_series";
inline constexpr std::string_view kLabelNameTooLong = "label_name_too_long";
inline constexpr std::string_view kLabelValueTooLong = "label_value_too_long";
inline constexpr std::string_view kDuplicateLabelNames = "duplicate_label_names";
inline constexpr std::string_view kInvalidLabels = "invalid_labels";
inline constexpr std::string_view kMissingLabels = "missing_labels";
inline constexpr std::string_view kDisallowedStructuredMetadata = "disallowed_structured_metadata";
inline constexpr std::string_view kStructuredMetadataTooLarge = "structured_metadata_too_large";
inline constexpr std::string_view kStructuredMetadataTooMany = "structured_metadata_too_many";
}  // namespace reason

// Counts discarded lines and bytes by reason and tenant.
void RecordDiscarded(std::string_view reason, std::string_view tenant, uint64_t lines,
                     uint64_t bytes);

}  // namespace sluice::write
