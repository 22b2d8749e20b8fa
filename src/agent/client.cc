#include "agent/client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>

namespace sluice::agent {

namespace {

constexpr size_t kMaxErrorBody = 512;

int64_t WallNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class CurlPushClient final : public PushClient {
 public:
  explicit CurlPushClient(const AgentConfig::Client& c) : config_(c) {
    curl_ = curl_easy_init();
    curl_easy_setopt(curl_, CURLOPT_URL, c.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(c.timeout / 1'000'000));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<int64_t>(c.timeout, 10'000'000'000) / 1'000'000));
    curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "sluice-agent");
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &CurlPushClient::OnBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &CurlPushClient::OnHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this);
    if (!c.basic_auth.username.empty()) {
      curl_easy_setopt(curl_, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(curl_, CURLOPT_USERNAME, c.basic_auth.username.c_str());
      curl_easy_setopt(curl_, CURLOPT_PASSWORD, c.basic_auth.password.c_str());
    }
    if (!c.tls.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, c.tls.ca_file.c_str());
    if (!c.tls.cert_file.empty()) curl_easy_setopt(curl_, CURLOPT_SSLCERT, c.tls.cert_file.c_str());
    if (!c.tls.key_file.empty()) curl_easy_setopt(curl_, CURLOPT_SSLKEY, c.tls.key_file.c_str());
    if (c.tls.insecure_skip_verify) {
      curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  }
  ~CurlPushClient() override {
    curl_easy_cleanup(curl_);
    for (auto* h : header_lists_) curl_slist_free_all(h);
  }

  PushResult Push(std::string_view body, const std::string& content_type,
                  const std::string& content_encoding) override {
    curl_slist* headers = Headers(content_type, content_encoding);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    response_body_.clear();
    retry_after_.clear();
    CURLcode rc = curl_easy_perform(curl_);
    PushResult r;
    if (rc != CURLE_OK) {
      r.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
      r.error = curl_easy_strerror(rc);
      return r;
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    r.http_status = static_cast<int>(status);
    if (status >= 300) r.error = response_body_;
    if (!retry_after_.empty()) r.retry_after_ns = ParseRetryAfter(retry_after_, WallNanos());
    return r;
  }

 private:
  curl_slist* Headers(const std::string& content_type, const std::string& content_encoding) {
    std::string key = content_type + "\n" + content_encoding;
    auto it = std::find(header_keys_.begin(), header_keys_.end(), key);
    if (it != header_keys_.end()) return header_lists_[it - header_keys_.begin()];
    curl_slist* h = nullptr;
    h = curl_slist_append(h, ("Content-Type: " + content_type).c_str());
    if (!content_encoding.empty()) {
      h = curl_slist_append(h, ("Content-Encoding: " + content_encoding).c_str());
    }
    h = curl_slist_append(h, "Expect:");  // no 100-continue round trip
    if (!config_.tenant_id.empty())
      h = curl_slist_append(h, ("X-Scope-OrgID: " + config_.tenant_id).c_str());
    if (!config_.bearer_token.empty()) {
      h = curl_slist_append(h, ("Authorization: Bearer " + config_.bearer_token).c_str());
    }
    header_keys_.push_back(std::move(key));
    header_lists_.push_back(h);
    return h;
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* self) {
    auto* c = static_cast<CurlPushClient*>(self);
    size_t len = size * n;
    if (c->response_body_.size() < kMaxErrorBody) {
      c->response_body_.append(data, std::min(len, kMaxErrorBody - c->response_body_.size()));
    }
    return len;
  }
  static size_t OnHeader(char* data, size_t size, size_t n, void* self) {
    auto* c = static_cast<CurlPushClient*>(self);
    size_t len = size * n;
    std::string_view line(data, len);
    constexpr std::string_view kName = "retry-after:";
    if (line.size() > kName.size()) {
      bool match = true;
      for (size_t i = 0; i < kName.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(line[i])) != kName[i]) {
          match = false;
          break;
        }
      }
      if (match) c->retry_after_ = std::string(line.substr(kName.size()));
    }
    return len;
  }

  const AgentConfig::Client config_;
  CURL* curl_;
  std::vector<std::string>
      header_keys_;  // content type + "\n" + encoding, parallel to header_lists_
  std::vector<curl_slist*> header_lists_;
  std::string response_body_;
  std::string retry_after_;
};

}  // namespace

PushClientPtr NewCurlPushClient(const AgentConfig::Client& config) {
  return std::make_unique<CurlPushClient>(config);
}

}  // namespace sluice::agent
