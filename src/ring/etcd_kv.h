#pragma once

// The etcd backend of KvStore, over etcd's v3 JSON gateway (grpc-gateway, served by etcd 3.4 on
// the client port under /v3/) with libcurl, rather than a gRPC etcd client:
//   Get            POST /v3/kv/range  {"key": b64}
//   CompareAndSwap POST /v3/kv/txn    compare MOD(key) == expected, success: put
//   Watch          POST /v3/watch     {"create_request": {"key", "start_revision"}}: a streaming
//                  response of newline-separated JSON messages, each {"result": {...events}}
// Keys and values are base64 in the JSON; 64-bit integers are JSON strings.
//
// Endpoints are tried in order starting from the last one that answered (failover). With a
// username, a token from POST /v3/auth/authenticate is sent in the Authorization header and
// renewed when etcd rejects it.

#include <string>
#include <vector>

#include "common/mutex.h"
#include "ring/kv.h"

namespace sluice::ring {

struct EtcdOptions {
  std::vector<std::string> endpoints;              // "host:port" or "http://host:port"
  int64_t dial_timeout_ns = 10LL * 1'000'000'000;  // Loki's default
  // A whole unary request (range, txn, authenticate), connection included.
  int64_t request_timeout_ns = 5LL * 1'000'000'000;
  std::string username;
  std::string password;
};

class EtcdKv final : public KvStore {
 public:
  explicit EtcdKv(EtcdOptions options);

  Result<KvValue> Get(const std::string& key) override;
  Result<int64_t> CompareAndSwap(const std::string& key, int64_t expected_revision,
                                 const std::string& value) override;
  Status Watch(const std::string& key, int64_t after_revision,
               const std::function<bool(const KvValue&)>& on_change, const std::atomic<bool>* stop,
               int64_t timeout_ns) override;

 private:
  struct Reply {
    long http_status = 0;
    std::string body;
  };
  // POSTs `body` to `path` on the endpoints in turn until one answers; authenticates first when
  // a username is set.
  Result<Reply> Post(const std::string& path, const std::string& body);
  Result<Reply> PostTo(const std::string& endpoint, const std::string& path,
                       const std::string& body, const std::string& token);
  Result<std::string> Token(const std::string& endpoint, bool renew);

  const EtcdOptions options_;
  Mutex mu_;
  size_t preferred_ GUARDED_BY(mu_) = 0;  // the endpoint that answered last
  std::string token_ GUARDED_BY(mu_);
};

}  // namespace sluice::ring
