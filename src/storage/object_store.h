#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::storage {

// Where chunks and index objects live: a flat key -> bytes map with S3 semantics. Keys are
// '/'-separated relative paths such as "chunks/<tenant>/<id>" (see ValidateKey).
//
// Thread safety: every implementation is safe for concurrent use by any number of threads.
// Objects are immutable once written from a reader's point of view: a Put is atomic (readers see
// the old bytes or the new ones, never a mix), and Put of an existing key replaces it.
//
// The same behaviour is pinned for every implementation by object_store_conformance_test.cc.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Creates or replaces `key`. Durable once it returns OK.
  virtual Status Put(std::string_view key, std::string_view data) = 0;
  // NotFound when missing.
  virtual Result<std::string> Get(std::string_view key) = 0;
  // Bytes [offset, offset + length) of `key`, clamped to the object's end: a range past the end
  // yields fewer bytes (or none). NotFound when missing.
  virtual Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) = 0;
  // Every key starting with `prefix` (a plain string prefix, as in S3; it need not end at a '/'),
  // at any depth, sorted. An empty prefix lists everything; no match is an empty list, not an
  // error.
  virtual Result<std::vector<std::string>> List(std::string_view prefix) = 0;
  // Removes `key`; a missing key is OK.
  virtual Status Delete(std::string_view key) = 0;
};
using ObjectStorePtr = std::unique_ptr<ObjectStore>;

// The key rules every implementation enforces (InvalidArgument otherwise), so that a key can never
// name anything outside the store's root on a filesystem: non-empty, relative (no leading '/'), no
// empty components ("a//b", trailing '/'), no "." or ".." components, no NUL byte, and not under
// the reserved top-level folder ".sluice" (the filesystem store stages writes there).
Status ValidateKey(std::string_view key);
// A List prefix follows the same rules, except that it may be empty and its last component may be
// partial or empty ("index/19700/", "chunks/te").
Status ValidatePrefix(std::string_view prefix);

// An in-memory store for tests and single-process experiments. Nothing is persisted.
ObjectStorePtr NewMemoryStore();

}  // namespace sluice::storage
