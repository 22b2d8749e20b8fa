#include "write/pusher.h"

#include <fmt/format.h>

#include "write/push_wire.h"

namespace sluice::write {

std::shared_ptr<const StreamLabels> StreamLabels::Make(model::LabelSet labels) {
  auto made = std::make_shared<StreamLabels>();
  made->labels = std::move(labels);
  made->text = made->labels.ToString();
  made->fingerprint = made->labels.Fingerprint();
  return made;
}

Status Pusher::PushEncoded(std::string_view tenant, std::span<const std::string_view> encoded) {
  ReceivedPush push;
  SLUICE_RETURN_IF_ERROR(DecodePushRequest(encoded, nullptr, &push));
  return Push(tenant, push.streams);
}

void ErrorCollector::Add(const Status& status) {
  if (groups_.empty()) first_code_ = status.code();
  for (auto& [msg, count] : groups_) {
    if (msg == status.message()) {
      ++count;
      return;
    }
  }
  groups_.emplace_back(status.message(), 1);
}

Status ErrorCollector::ToStatus() const {
  if (groups_.empty()) return Status::OK();
  std::string out;
  bool prefix = groups_.size() > 1 || groups_[0].second > 1;
  for (const auto& [msg, count] : groups_) {
    if (!out.empty()) out += "; ";
    if (prefix) out += fmt::format("{} errors like: ", count);
    out += msg;
  }
  switch (first_code_) {
    case StatusCode::kRateLimited:
      return Status::RateLimited(out);
    case StatusCode::kInvalidArgument:
      return Status::InvalidArgument(out);
    default:
      return Status::Internal(out);
  }
}

}  // namespace sluice::write
