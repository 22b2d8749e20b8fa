#pragma once

// Where the ring descriptor lives: one key, read with its revision, written only by
// compare-and-swap on that revision, and watched for changes. Two backends: in memory (one
// process, -target=all and tests) and etcd (etcd_kv.h).
//
// Revisions: 0 means "the key does not exist"; every successful write gives the key a larger
// revision (etcd's mod_revision), so a writer that read revision r and writes "if still r" can
// never overwrite a change it has not seen.
//
// Thread safety: every method may be called from any thread at the same time.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "common/status.h"
#include "ring/desc.h"

namespace sluice::ring {

struct KvValue {
  std::string value;     // empty when the key does not exist
  int64_t revision = 0;  // 0 when the key does not exist
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  // The key's value and revision. IOError/Unavailable when the store cannot be reached.
  virtual Result<KvValue> Get(const std::string& key) = 0;

  // Writes `value` only if the key's revision is still `expected_revision` (0: only if absent).
  // Returns the new revision; Status::Unavailable with "revision conflict" in the message when
  // someone else wrote first (re-read and retry: UpdateDesc does).
  virtual Result<int64_t> CompareAndSwap(const std::string& key, int64_t expected_revision,
                                         const std::string& value) = 0;

  // Calls on_change with the values the key takes after `after_revision` (a deletion is an empty
  // value), in revision order, ending with the latest; a backend may skip intermediate values
  // (the in-memory one delivers only the newest, etcd every one). Runs until on_change returns
  // false, *stop becomes true or timeout_ns passes (then it returns OK). Returns an error when the
  // store is unreachable or the watch breaks; the caller re-reads and watches again. REQUIRES: stop
  // outlives the call.
  virtual Status Watch(const std::string& key, int64_t after_revision,
                       const std::function<bool(const KvValue&)>& on_change,
                       const std::atomic<bool>* stop, int64_t timeout_ns) = 0;
};
using KvStorePtr = std::unique_ptr<KvStore>;

// In-memory store. Watchers wake on every write.
class MemoryKv final : public KvStore {
 public:
  Result<KvValue> Get(const std::string& key) override;
  Result<int64_t> CompareAndSwap(const std::string& key, int64_t expected_revision,
                                 const std::string& value) override;
  Status Watch(const std::string& key, int64_t after_revision,
               const std::function<bool(const KvValue&)>& on_change, const std::atomic<bool>* stop,
               int64_t timeout_ns) override;

 private:
  Mutex mu_;
  CondVar changed_;
  int64_t revision_ GUARDED_BY(mu_) = 0;  // store-wide, like etcd's
  std::map<std::string, KvValue> values_ GUARDED_BY(mu_);
};

inline constexpr std::string_view kRevisionConflict = "revision conflict";
bool IsRevisionConflict(const Status& status);

// Read-modify-write of the ring descriptor under `key` with CAS and retry: `update` gets the
// current descriptor (empty when absent) and edits it; returning an error aborts without writing.
// Retries on revision conflicts up to max_attempts times. Returns the descriptor written.
Result<Desc> UpdateDesc(KvStore* kv, const std::string& key,
                        const std::function<Status(Desc&)>& update, int max_attempts = 10);

// The key Loki stores the ingester ring under: <ring.kvstore.prefix>ring.
inline constexpr std::string_view kDefaultRingKey = "collectors/ring";

}  // namespace sluice::ring
