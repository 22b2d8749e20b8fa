#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/object_store.h"

namespace sluice::storage {

// An ObjectStore on one bucket of Amazon S3 or an S3-compatible store (MinIO, Google Cloud
// Storage's XML API, s3rver), over libcurl with its built-in AWS SigV4 signing. docs/storage.md
// has the operator's view. Each field names the Loki `storage_config.aws` key it comes from.
struct S3Options {
  // `endpoint`: "host[:port]" or "http(s)://host[:port]"; a scheme in it overrides `insecure`.
  // Empty: s3.<region>.amazonaws.com.
  std::string endpoint = "";
  // `region`. Empty: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1.
  std::string region = "";
  // `bucketnames`: exactly one bucket (Loki spreads over a comma-separated list; sluice does not).
  std::string bucket = "";
  // `access_key_id` / `secret_access_key` / `session_token`. When the key id is empty, all three
  // come from $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY and $AWS_SESSION_TOKEN; when those are
  // empty too, requests go unsigned (a public bucket).
  std::string access_key_id = "";
  std::string secret_access_key = "";
  std::string session_token = "";
  // `s3forcepathstyle`: http://endpoint/bucket/key instead of http://bucket.endpoint/key.
  // Path style is also used, whatever this says, when the endpoint is an IP address or
  // "localhost", or when the bucket name cannot be a DNS label (as the AWS SDKs do).
  bool force_path_style = false;
  // `insecure`: http instead of https when the endpoint has no scheme.
  bool insecure = false;
  // `http_config.ca_file`: PEM bundle to verify the server with, instead of the system's.
  std::string ca_file = "";
  // `http_config.insecure_skip_verify`: accept any certificate and host name.
  bool insecure_skip_verify = false;

  // Connecting (TCP and TLS) per attempt. No Loki key (Go's dialer uses 30 s).
  int64_t connect_timeout_ns = 10LL * 1'000'000'000;
  // `http_config.response_header_timeout`: an attempt that receives no byte for this long fails
  // (libcurl has no header-only timeout; this stall timeout covers a silent server). 0: none.
  int64_t response_header_timeout_ns = 30LL * 1'000'000'000;
  // `http_config.idle_conn_timeout`: pooled connections idle longer than this are not reused.
  int64_t idle_conn_timeout_ns = 90LL * 1'000'000'000;
  // One attempt, transfer included. No Loki key.
  int64_t request_timeout_ns = 60LL * 1'000'000'000;
  // Every attempt and backoff of one operation together; a retry that would start after this is
  // not made. No Loki key.
  int64_t operation_timeout_ns = 120LL * 1'000'000'000;

  // `backoff_config.min_period` / `max_period` / `max_retries`: retries after 5xx, 429, SlowDown,
  // connection errors and timeouts, with jittered exponential backoff between the two periods.
  int64_t min_backoff_ns = 100'000'000;
  int64_t max_backoff_ns = 3LL * 1'000'000'000;
  int max_retries = 5;

  // Objects of at least `multipart_threshold` bytes go up in a multipart upload of
  // `multipart_part_size` parts (S3 wants parts of 5 MiB or more, except the last); smaller
  // ones in one PUT (S3 takes up to 5 GiB). No Loki keys (Loki always PUTs whole chunks).
  uint64_t multipart_threshold = 100ULL << 20;
  uint64_t multipart_part_size = 16ULL << 20;
  // Keys per ListObjectsV2 page (S3's max-keys, at most 1000). Tests lower it to paginate.
  int list_page_size = 1000;
};

// Fills the empty fields of `options` from the environment and the defaults above, and checks
// them (InvalidArgument: no bucket, bad endpoint, a key id without a secret ...).
Result<S3Options> ResolveS3Options(S3Options options);

// Where a request for `key` goes: `url` for libcurl (scheme, host, the bucket when path style,
// the key percent-encoded as SigV4 canonicalizes it, then "?" and `query` when not empty) and
// `host`, the Host header's value (host[:port]). An empty key names the bucket. `options` must
// be resolved (ResolveS3Options). Exposed for tests.
struct S3Target {
  std::string url;
  std::string host;
};
S3Target S3TargetFor(const S3Options& options, std::string_view key, std::string_view query);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, every other byte is
// %XX (upper case); '/' stays too when `keep_slash` (object paths), not in query values.
std::string S3UriEncode(std::string_view s, bool keep_slash);

// The store. Fails only on invalid options (ResolveS3Options); it does not contact the server
// (a bad bucket or unreachable endpoint surfaces on first use, with the S3 error code).
Result<ObjectStorePtr> NewS3Store(S3Options options);

}  // namespace sluice::storage
