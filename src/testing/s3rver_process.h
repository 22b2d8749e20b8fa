#pragma once

// A real S3-compatible server for tests: s3rver (npm, tests/e2e/node) on 127.0.0.1 with a free
// port and a temporary data directory, killed by its PID when the object goes. Stop() and Start()
// keep the port and the data, for outage tests.
//
//   SLUICE_START_S3RVER_OR_RETURN(s3);  // in a test body; see SLUICE_REQUIRE_S3
//   auto store = storage::NewS3Store(s3->Options(s3->NewBucket()));
//
// The binary is $SLUICE_S3RVER (scripts/test.sh exports it), else the repository's
// tests/e2e/node/node_modules/.bin/s3rver (scripts/node-deps.sh installs it). s3rver accepts the
// key "S3RVER" / "S3RVER" (any other key id is InvalidAccessKeyId) and does not verify SigV4
// signatures themselves.

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/s3_store.h"
#include "testing/child_process.h"

namespace sluice::testing {

class S3rverProcess {
 public:
  static constexpr const char* kAccessKey = "S3RVER";
  static constexpr const char* kSecretKey = "S3RVER";
  static constexpr const char* kBucket = "sluice-test";  // Created at startup.

  // Where s3rver is, or "" when it is not installed.
  static std::string FindBinary() {
    namespace fs = std::filesystem;
    std::vector<fs::path> candidates;
    if (const char* env = std::getenv("SLUICE_S3RVER"); env != nullptr && *env != '\0') {
      candidates.emplace_back(env);
    }
    // The repository's copy: this header's path is absolute or relative to the build directory,
    // where the tests run.
    fs::path here(__FILE__);
    candidates.push_back(here.parent_path() / "../../tests/e2e/node/node_modules/.bin/s3rver");
    candidates.emplace_back("../tests/e2e/node/node_modules/.bin/s3rver");
    candidates.emplace_back("tests/e2e/node/node_modules/.bin/s3rver");
    for (const auto& c : candidates) {
      std::error_code ec;
      if (fs::exists(c, ec)) return fs::absolute(c, ec).string();
    }
    return "";
  }

  // Starts s3rver, or: with SLUICE_REQUIRE_S3=1 and no s3rver, records a test failure; without
  // it, returns null with *skip_reason set (the caller skips).
  static std::unique_ptr<S3rverProcess> StartOrSkip(std::string* skip_reason) {
    std::string binary = FindBinary();
    if (binary.empty() || !std::filesystem::exists("/usr/bin/node")) {
      MissingServer(
          "SLUICE_REQUIRE_S3", "s3rver is missing (scripts/node-deps.sh installs it)",
          "S3 tests skipped: s3rver is missing (scripts/node-deps.sh, or set SLUICE_S3RVER)",
          skip_reason);
      return nullptr;
    }
    auto p = std::unique_ptr<S3rverProcess>(new S3rverProcess(std::move(binary)));
    if (!p->Start()) {
      ADD_FAILURE() << "s3rver did not start; log: " << p->dir_ << "/s3rver.log";
      return nullptr;
    }
    return p;
  }

  ~S3rverProcess() {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Client options for `bucket` on this server: path style, s3rver's key, short timeouts and
  // backoffs so that an outage is noticed quickly.
  storage::S3Options Options(const std::string& bucket = kBucket) const {
    storage::S3Options o;
    o.endpoint = endpoint();
    o.region = "us-east-1";  // s3rver's continuation tokens name us-east-1.
    o.bucket = bucket;
    o.access_key_id = kAccessKey;
    o.secret_access_key = kSecretKey;
    o.force_path_style = true;
    o.connect_timeout_ns = 1'000'000'000;
    o.request_timeout_ns = 10LL * 1'000'000'000;
    o.operation_timeout_ns = 15LL * 1'000'000'000;
    o.min_backoff_ns = 20'000'000;
    o.max_backoff_ns = 200'000'000;
    return o;
  }

  // Creates a new, empty bucket (s3rver takes unsigned requests) and returns its name; empty and
  // a test failure when s3rver refuses.
  std::string NewBucket() {
    std::string name = "b" + std::to_string(::getpid()) + "-" + std::to_string(next_bucket_++);
    long status = 0;
    CURL* h = curl_easy_init();
    std::string url = endpoint() + "/" + name;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Discard);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK || status != 200) {
      ADD_FAILURE() << "s3rver: PUT bucket " << name << ": curl " << rc << ", HTTP " << status;
      return "";
    }
    return name;
  }

  // SIGKILL and reap; the port and the data stay for Start().
  void Stop() { process_.Kill(); }

  // Starts s3rver on the port and data directory it had; false if it does not answer within
  // 20 s.
  bool Start() {
    if (process_.running()) return true;
    std::vector<std::string> args = {binary_,
                                     "-d",
                                     dir_ + "/data",
                                     "-a",
                                     "127.0.0.1",
                                     "-p",
                                     std::to_string(port_),

                                     "--configure-bucket",
                                     kBucket};
    // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers
    // through its legacy provider: without it every truncated listing is a 500.
    process_.Spawn(std::move(args), dir_ + "/s3rver.log",
                   {"NODE_OPTIONS=--openssl-legacy-provider"});
    for (int i = 0; i < 200; ++i) {  // 20 s at most
      if (Answers()) return true;
      if (process_.Exited()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  explicit S3rverProcess(std::string binary) : binary_(std::move(binary)) {
    char tmpl[] = "/tmp/sluice-s3rver-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::filesystem::create_directories(dir_ + "/data");
    port_ = FreeLoopbackPort();
    curl_global_init(CURL_GLOBAL_DEFAULT);
  }

  static size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

  // Whether the startup bucket answers (it exists once s3rver listens).
  bool Answers() const {
    long status = 0;
    CURL* h = curl_easy_init();
    std::string url = endpoint() + "/" + kBucket + "?list-type=2&max-keys=1";
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Discard);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return rc == CURLE_OK && status == 200;
  }

  std::string binary_;
  std::string dir_;
  int port_ = 0;
  ChildProcess process_;
  std::atomic<int> next_bucket_{0};
};

}  // namespace sluice::testing

// Declares `var`, a started S3rverProcess, or skips / fails the test and returns.
#define SLUICE_START_S3RVER_OR_RETURN(var)                               \
  std::string var##_skip;                                                \
  auto var = ::sluice::testing::S3rverProcess::StartOrSkip(&var##_skip); \
  if (!var) {                                                            \
    if (!var##_skip.empty()) GTEST_SKIP() << var##_skip;                 \
    return;                                                              \
  }
