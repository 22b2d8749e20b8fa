#include "storage/object_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace sluice::storage {

namespace {

constexpr std::string_view kReservedFolder = ".sluice";

// Checks the components of `path`; the last one may be empty when `allow_partial_last`.
Status ValidatePath(std::string_view path, bool allow_partial_last, std::string_view what) {
  if (path.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(fmt::format("{} contains a NUL byte", what));
  }
  if (!path.empty() && path.front() == '/') {
    return Status::InvalidArgument(fmt::format("{} '{}' is absolute", what, path));
  }
  size_t start = 0;
  bool first = true;
  while (true) {
    size_t slash = path.find('/', start);
    bool last = slash == std::string_view::npos;
    std::string_view component = path.substr(start, last ? std::string_view::npos : slash - start);
    if (component.empty() && !(last && allow_partial_last)) {
      return Status::InvalidArgument(fmt::format("{} '{}' has an empty component", what, path));
    }
    // The last component of a prefix is only a string prefix (".h" may match ".hidden"), and the
    // filesystem store walks only the folders before it, so it cannot escape the root.
    bool partial = last && allow_partial_last;
    if (!partial && (component == "." || component == "..")) {
      return Status::InvalidArgument(
          fmt::format("{} '{}' has a '{}' component", what, path, component));
    }
    if (!partial && first && component == kReservedFolder) {
      return Status::InvalidArgument(
          fmt::format("{} '{}' uses the reserved folder '{}'", what, path, kReservedFolder));
    }
    if (last) break;
    start = slash + 1;
    first = false;
  }
  return Status::OK();
}

class MemoryStore final : public ObjectStore {
 public:
  Status Put(std::string_view key, std::string_view data) override {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    MutexLock lock(&mu_);
    objects_.insert_or_assign(std::string(key), std::string(data));
    return Status::OK();
  }

  Result<std::string> Get(std::string_view key) override { return GetRange(key, 0, UINT64_MAX); }

  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    MutexLock lock(&mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return Status::NotFound(fmt::format("object '{}' not found", key));
    const std::string& data = it->second;
    if (offset >= data.size()) return std::string();
    return data.substr(offset, std::min<uint64_t>(length, data.size() - offset));
  }

  Result<std::vector<std::string>> List(std::string_view prefix) override {
    SLUICE_RETURN_IF_ERROR(ValidatePrefix(prefix));
    MutexLock lock(&mu_);
    std::vector<std::string> keys;
    for (auto it = objects_.lower_bound(prefix);
         it != objects_.end() && it->first.starts_with(prefix); ++it) {
      keys.push_back(it->first);
    }
    return keys;
  }

  Status Delete(std::string_view key) override {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    MutexLock lock(&mu_);
    auto it = objects_.find(key);
    if (it != objects_.end()) objects_.erase(it);
    return Status::OK();
  }

 private:
  Mutex mu_;
  std::map<std::string, std::string, std::less<>> objects_ GUARDED_BY(mu_);
};

}  // namespace

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("object key is empty");
  return ValidatePath(key, /*allow_partial_last=*/false, "object key");
}

Status ValidatePrefix(std::string_view prefix) {
  if (prefix.empty()) return Status::OK();
  return ValidatePath(prefix, /*allow_partial_last=*/true, "list prefix");
}

ObjectStorePtr NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace sluice::storage
