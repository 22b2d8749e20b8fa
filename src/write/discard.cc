#include "write/discard.h"

#include "metrics/metrics.h"

namespace sluice::write {

void RecordDiscarded(std::string_view reason, std::string_view tenant, uint64_t lines,
                     uint64_t bytes) {
  static auto* samples = metrics::DefaultRegistry().NewCounter(
      "loki_discarded_samples_total", "The total number of samples that were discarded.",
      {"reason", "tenant"});
  static auto* byte_count = metrics::DefaultRegistry().NewCounter(
      "loki_discarded_bytes_total", "The total number of bytes that were discarded.",
      {"reason", "tenant"});
  std::vector<std::string> labels{std::string(reason), std::string(tenant)};
  samples->WithLabels(labels)->Inc(static_cast<double>(lines));
  byte_count->WithLabels(labels)->Inc(static_cast<double>(bytes));
}

}  // namespace sluice::write
