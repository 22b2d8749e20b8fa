#include "deletion/delete_request_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <set>

namespace sluice::deletion {

namespace {

constexpr std::string_view kRequestSuffix = ".json";
constexpr std::string_view kMarkerSuffix = ".processed";

int64_t TruncateToMilli(int64_t ns) {
  int64_t ms = ns / kNanosPerMilli;
  if (ns < 0 && ms * kNanosPerMilli != ns) --ms;  // floor
  return ms * kNanosPerMilli;
}

void SortByCreation(std::vector<DeleteRequest>* requests) {
  std::stable_sort(requests->begin(), requests->end(),
                   [](const DeleteRequest& a, const DeleteRequest& b) {
                     if (a.created_at_ns != b.created_at_ns)
                       return a.created_at_ns < b.created_at_ns;
                     return a.request_id < b.request_id;
                   });
}

}  // namespace

std::string GoDurationString(int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  auto fraction = [](uint64_t value, uint64_t unit) {
    std::string out = std::to_string(value / unit);
    uint64_t rest = value % unit;
    if (rest == 0) return out;
    std::string digits = std::to_string(rest);
    digits.insert(0, std::to_string(unit).size() - 1 - digits.size(), '0');
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    return out + "." + digits;
  };
  if (u < 1'000) return sign + std::to_string(u) + "ns";
  if (u < 1'000'000) return sign + fraction(u, 1'000) + "µs";
  if (u < 1'000'000'000) return sign + fraction(u, 1'000'000) + "ms";
  uint64_t secs_ns = u % 60'000'000'000ULL;
  uint64_t mins = u / 60'000'000'000ULL;
  std::string out = fraction(secs_ns, 1'000'000'000) + "s";
  if (mins > 0) {
    out = std::to_string(mins % 60) + "m" + out;
    if (mins >= 60) out = std::to_string(mins / 60) + "h" + out;
  }
  return sign + out;
}

DeleteRequestStore::DeleteRequestStore(storage::ObjectStore* store,
                                       DeleteRequestStoreOptions options, const Clock* clock)
    : store_(store),
      options_(std::move(options)),
      clock_(clock),
      snapshot_(std::make_shared<const Snapshot>()) {}

std::string DeleteRequestStore::RequestKey(std::string_view tenant, std::string_view id) const {
  return fmt::format("{}{}/{}{}", options_.prefix, tenant, id, kRequestSuffix);
}

std::string DeleteRequestStore::MarkerKey(std::string_view tenant, std::string_view id) const {
  return fmt::format("{}{}/{}{}", options_.prefix, tenant, id, kMarkerSuffix);
}

Result<std::shared_ptr<DeleteRequestStore::Snapshot>> DeleteRequestStore::ReadAll(
    const Snapshot& old) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> keys, store_->List(options_.prefix));
  // tenant -> ids with a marker
  std::set<std::pair<std::string, std::string>> processed;
  std::vector<std::pair<std::string, std::string>> found;  // (tenant, id)
  for (const std::string& key : keys) {
    std::string_view rest = std::string_view(key).substr(options_.prefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) continue;
    std::string tenant(rest.substr(0, slash));
    std::string_view name = rest.substr(slash + 1);
    if (name.ends_with(kMarkerSuffix)) {
      processed.emplace(tenant, name.substr(0, name.size() - kMarkerSuffix.size()));
    } else if (name.ends_with(kRequestSuffix)) {
      found.emplace_back(tenant, name.substr(0, name.size() - kRequestSuffix.size()));
    }
  }
  auto fresh = std::make_shared<Snapshot>();
  for (const auto& [tenant, id] : found) {
    std::optional<DeleteRequest> request;
    if (auto it = old.requests.find(tenant); it != old.requests.end()) {
      for (const DeleteRequest& r : it->second) {
        if (r.request_id == id) request = r;
      }
    }
    if (!request) {
      auto body = store_->Get(RequestKey(tenant, id));
      if (!body.ok()) {
        if (body.status().code() == StatusCode::kNotFound) continue;  // cancelled meanwhile
        return body.status();
      }
      auto decoded = DecodeDeleteRequest(*body);
      if (!decoded.ok() || decoded->tenant != tenant || decoded->request_id != id) {
        spdlog::warn(
            "msg=\"skipping unreadable delete request\" key={} err=\"{}\"", RequestKey(tenant, id),
            decoded.ok() ? "tenant or id differ from the key" : decoded.status().message());
        continue;
      }
      request = std::move(decoded).value();
    }
    request->status =
        processed.contains({tenant, id}) ? DeleteStatus::kProcessed : DeleteStatus::kReceived;
    fresh->requests[tenant].push_back(std::move(*request));
  }
  for (auto& [tenant, list] : fresh->requests) {
    SortByCreation(&list);
    // Unchanged lists keep their compiled form.
    auto old_list = old.requests.find(tenant);
    auto old_compiled = old.compiled.find(tenant);
    if (old_list != old.requests.end() && old_compiled != old.compiled.end() &&
        old_list->second == list) {
      fresh->compiled[tenant] = old_compiled->second;
    } else {
      fresh->compiled[tenant] = TenantDeletes::Compile(list);
    }
  }
  return fresh;
}

Status DeleteRequestStore::Load() {
  SnapshotPtr old;
  uint64_t changes = 0;
  {
    MutexLock lock(&mu_);
    old = snapshot_;
    changes = changes_;
  }
  auto fresh = ReadAll(*old);
  if (!fresh.ok()) return fresh.status();
  MutexLock lock(&mu_);
  if (changes == changes_) snapshot_ = std::move(fresh).value();
  loaded_ = true;
  next_refresh_ns_ = clock_->NowNanos() + options_.refresh_interval_ns;
  return Status::OK();
}

DeleteRequestStore::SnapshotPtr DeleteRequestStore::Current() {
  SnapshotPtr old;
  uint64_t changes = 0;
  {
    MutexLock lock(&mu_);
    if (refreshing_ || (loaded_ && clock_->NowNanos() < next_refresh_ns_)) return snapshot_;
    refreshing_ = true;
    old = snapshot_;
    changes = changes_;
  }
  auto fresh = ReadAll(*old);
  MutexLock lock(&mu_);
  refreshing_ = false;
  next_refresh_ns_ = clock_->NowNanos() + options_.refresh_interval_ns;
  if (!fresh.ok()) {
    spdlog::warn("msg=\"reading delete requests failed; using the previous ones\" err=\"{}\"",
                 fresh.status().message());
    return snapshot_;
  }
  loaded_ = true;
  // A change made meanwhile is in snapshot_ but maybe not in what was read: keep snapshot_ and
  // read again at the next call.
  if (changes == changes_) {
    snapshot_ = std::move(fresh).value();
  } else {
    next_refresh_ns_ = 0;
  }
  return snapshot_;
}

void DeleteRequestStore::Replace(std::string_view tenant, std::vector<DeleteRequest> requests) {
  auto next = std::make_shared<Snapshot>(*snapshot_);
  std::string key(tenant);
  if (requests.empty()) {
    next->requests.erase(key);
    next->compiled.erase(key);
  } else {
    SortByCreation(&requests);
    next->compiled[key] = TenantDeletes::Compile(requests);
    next->requests[key] = std::move(requests);
  }
  snapshot_ = std::move(next);
  ++changes_;
}

std::string DeleteRequestStore::NewRequestId(const Snapshot& snapshot, std::string_view tenant) {
  // 8 hex digits, as Loki's ids look; unique within the tenant.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto it = snapshot.requests.find(tenant);
  for (int attempt = 0;; ++attempt) {
    std::string id = fmt::format("{:08x}", static_cast<uint32_t>(rng() ^ id_counter_++));
    bool taken = false;
    if (it != snapshot.requests.end()) {
      for (const DeleteRequest& r : it->second) taken = taken || r.request_id == id;
    }
    if (!taken || attempt >= 16) return id;
  }
}

Result<DeleteRequest> DeleteRequestStore::Add(std::string_view tenant, std::string_view query,
                                              int64_t start_ns, int64_t end_ns) {
  if (tenant.empty()) return Status::InvalidArgument("no org id");
  SLUICE_RETURN_IF_ERROR(ParseDeleteQuery(query).status());
  if (start_ns > end_ns)
    return Status::InvalidArgument("start time can't be greater than end time");
  SnapshotPtr snapshot = Current();
  MutexLock write(&write_mu_);
  DeleteRequest r;
  r.tenant = std::string(tenant);
  r.query = std::string(query);
  r.start_ns = TruncateToMilli(start_ns);
  r.end_ns = TruncateToMilli(end_ns);
  r.created_at_ns = TruncateToMilli(clock_->NowNanos());
  r.request_id = NewRequestId(*snapshot, tenant);
  SLUICE_RETURN_IF_ERROR(storage::ValidateKey(RequestKey(tenant, r.request_id)));
  SLUICE_RETURN_IF_ERROR(store_->Put(RequestKey(tenant, r.request_id), EncodeDeleteRequest(r)));
  MutexLock lock(&mu_);
  std::vector<DeleteRequest> list;
  if (auto it = snapshot_->requests.find(tenant); it != snapshot_->requests.end())
    list = it->second;
  list.push_back(r);
  Replace(tenant, std::move(list));
  return r;
}

std::vector<DeleteRequest> DeleteRequestStore::List(std::string_view tenant) {
  SnapshotPtr snapshot = Current();
  auto it = snapshot->requests.find(tenant);
  return it == snapshot->requests.end() ? std::vector<DeleteRequest>{} : it->second;
}

Status DeleteRequestStore::Cancel(std::string_view tenant, std::string_view request_id,
                                  bool force) {
  Current();
  MutexLock write(&write_mu_);
  std::optional<DeleteRequest> found;
  {
    MutexLock lock(&mu_);
    if (auto it = snapshot_->requests.find(tenant); it != snapshot_->requests.end()) {
      for (const DeleteRequest& r : it->second) {
        if (r.request_id == request_id) found = r;
      }
    }
  }
  if (!found) {
    // Perhaps added by another process since the last refresh.
    if (storage::ValidateKey(RequestKey(tenant, request_id)).ok()) {
      auto body = store_->Get(RequestKey(tenant, request_id));
      if (body.ok()) {
        auto decoded = DecodeDeleteRequest(*body);
        if (decoded.ok()) found = std::move(decoded).value();
        auto marker = store_->Get(MarkerKey(tenant, request_id));
        if (found && marker.ok()) found->status = DeleteStatus::kProcessed;
      } else if (body.status().code() != StatusCode::kNotFound) {
        return body.status();
      }
    }
    if (!found) return Status::NotFound(std::string(kRequestNotFoundMessage));
  }
  if (found->status == DeleteStatus::kProcessed) {
    return Status::InvalidArgument(std::string(kAlreadyProcessedMessage));
  }
  if (found->created_at_ns + options_.cancel_period_ns < clock_->NowNanos() && !force) {
    return Status::InvalidArgument(fmt::format(
        "Cancellation of partially completed delete request or delete request past the deadline "
        "of {} since its creation is not allowed. To force, use the ?force query parameter",
        GoDurationString(options_.cancel_period_ns)));
  }
  SLUICE_RETURN_IF_ERROR(store_->Delete(RequestKey(tenant, request_id)));
  SLUICE_RETURN_IF_ERROR(store_->Delete(MarkerKey(tenant, request_id)));
  MutexLock lock(&mu_);
  std::vector<DeleteRequest> list;
  if (auto it = snapshot_->requests.find(tenant); it != snapshot_->requests.end()) {
    for (const DeleteRequest& r : it->second) {
      if (r.request_id != request_id) list.push_back(r);
    }
  }
  Replace(tenant, std::move(list));
  return Status::OK();
}

Status DeleteRequestStore::MarkProcessed(std::string_view tenant, std::string_view request_id) {
  Current();
  MutexLock write(&write_mu_);
  bool known = false;
  {
    MutexLock lock(&mu_);
    if (auto it = snapshot_->requests.find(tenant); it != snapshot_->requests.end()) {
      for (const DeleteRequest& r : it->second) known = known || r.request_id == request_id;
    }
  }
  if (!known) {
    if (!storage::ValidateKey(RequestKey(tenant, request_id)).ok()) {
      return Status::NotFound(std::string(kRequestNotFoundMessage));
    }
    auto body = store_->Get(RequestKey(tenant, request_id));
    if (!body.ok()) {
      if (body.status().code() == StatusCode::kNotFound) {
        return Status::NotFound(std::string(kRequestNotFoundMessage));
      }
      return body.status();
    }
  }
  SLUICE_RETURN_IF_ERROR(store_->Put(MarkerKey(tenant, request_id), ""));
  MutexLock lock(&mu_);
  if (!known) {
    next_refresh_ns_ = 0;  // the request itself is read at the next refresh
    return Status::OK();
  }
  std::vector<DeleteRequest> list = snapshot_->requests.find(tenant)->second;
  for (DeleteRequest& r : list) {
    if (r.request_id == request_id) r.status = DeleteStatus::kProcessed;
  }
  Replace(tenant, std::move(list));
  return Status::OK();
}

std::vector<DeleteRequest> DeleteRequestStore::Pending(std::string_view tenant, int64_t now_ns) {
  std::vector<DeleteRequest> out;
  for (DeleteRequest& r : List(tenant)) {
    if (r.status == DeleteStatus::kReceived &&
        r.created_at_ns + options_.cancel_period_ns <= now_ns) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<std::string> DeleteRequestStore::Tenants() {
  SnapshotPtr snapshot = Current();
  std::vector<std::string> out;
  for (const auto& [tenant, list] : snapshot->requests) out.push_back(tenant);
  return out;
}

std::shared_ptr<const TenantDeletes> DeleteRequestStore::Deletes(std::string_view tenant) {
  SnapshotPtr snapshot = Current();
  auto it = snapshot->compiled.find(tenant);
  if (it == snapshot->compiled.end() || it->second->empty()) return nullptr;
  return it->second;
}

}  // namespace sluice::deletion
