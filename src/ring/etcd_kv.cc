#include "ring/etcd_kv.h"

#include "common/curl.h"
#include "ring/encoding.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <charconv>
#include <chrono>
#include <mutex>

namespace sluice::ring {

namespace dom = simdjson::dom;

namespace {

std::string BaseUrl(const std::string& endpoint) {
  if (endpoint.starts_with("http://") || endpoint.starts_with("https://")) return endpoint;
  return "http://" + endpoint;
}

// grpc-gateway writes int64 as a JSON string; accept a number too. Absent is 0.
int64_t IntField(dom::object obj, std::string_view name) {
  dom::element e;
  if (obj[name].get(e) != simdjson::SUCCESS) return 0;
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) {
    int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  int64_t v = 0;
  if (e.get_int64().get(v) == simdjson::SUCCESS) return v;
  return 0;
}

// Absent is false (the gateway omits false).
bool BoolField(dom::object obj, std::string_view name) {
  bool v = false;
  return obj[name].get_bool().get(v) == simdjson::SUCCESS && v;
}

std::string StringField(dom::object obj, std::string_view name) {
  std::string_view s;
  if (obj[name].get_string().get(s) != simdjson::SUCCESS) return {};
  return std::string(s);
}

// etcd's error body: {"error": "...", "message": "...", "code": N}.
std::string ErrorMessage(const std::string& body) {
  dom::parser parser;
  dom::object obj;
  if (parser.parse(body).get_object().get(obj) == simdjson::SUCCESS) {
    std::string m = StringField(obj, "message");
    if (!m.empty()) return m;
  }
  return body.substr(0, 200);
}

// A POST of `body` (JSON) to `url`, with etcd's token when there is one. The caller sets what
// to do with the answer, performs and frees with FinishRequest. REQUIRES: body, url and the
// returned header list outlive the request.
CURL* NewPost(const std::string& url, const std::string& body, const std::string& token,
              int64_t dial_timeout_ns, curl_slist** headers) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return nullptr;
  *headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (!token.empty()) *headers = curl_slist_append(*headers, ("Authorization: " + token).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(dial_timeout_ns / 1'000'000));
  return curl;
}

// Performs the request; returns curl's code and the HTTP status, and frees everything.
CURLcode FinishRequest(CURL* curl, curl_slist* headers, long* http_status) {
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, http_status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return rc;
}

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

EtcdKv::EtcdKv(EtcdOptions options) : options_(std::move(options)) { CurlGlobalInitOnce(); }

Result<EtcdKv::Reply> EtcdKv::PostTo(const std::string& endpoint, const std::string& path,
                                     const std::string& body, const std::string& token) {
  Reply reply;
  std::string url = BaseUrl(endpoint) + path;
  curl_slist* headers = nullptr;
  CURL* curl = NewPost(url, body, token, options_.dial_timeout_ns, &headers);
  if (curl == nullptr) return Status::Internal("curl_easy_init failed");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(options_.request_timeout_ns / 1'000'000));
  CURLcode rc = FinishRequest(curl, headers, &reply.http_status);
  if (rc != CURLE_OK) {
    return Status::Unavailable(fmt::format("etcd {}: {}", url, curl_easy_strerror(rc)));
  }
  return reply;
}

Result<std::string> EtcdKv::Token(const std::string& endpoint, bool renew) {
  if (options_.username.empty()) return std::string();
  {
    MutexLock lock(&mu_);
    if (!renew && !token_.empty()) return token_;
  }
  std::string body = fmt::format(R"({{"name":"{}","password":"{}"}})",
                                 JsonEscape(options_.username), JsonEscape(options_.password));
  SLUICE_ASSIGN_OR_RETURN(Reply reply, PostTo(endpoint, "/v3/auth/authenticate", body, ""));
  if (reply.http_status != 200) {
    return Status::Unauthenticated(fmt::format("etcd authentication as {} failed: {}",
                                               options_.username, ErrorMessage(reply.body)));
  }
  dom::parser parser;
  dom::object obj;
  if (parser.parse(reply.body).get_object().get(obj) != simdjson::SUCCESS) {
    return Status::Unavailable("etcd authenticate: response is not JSON");
  }
  std::string token = StringField(obj, "token");
  MutexLock lock(&mu_);
  token_ = token;
  return token;
}

Result<EtcdKv::Reply> EtcdKv::Post(const std::string& path, const std::string& body) {
  if (options_.endpoints.empty()) return Status::InvalidArgument("etcd: no endpoints configured");
  size_t start;
  {
    MutexLock lock(&mu_);
    start = preferred_;
  }
  Status last;
  for (size_t i = 0; i < options_.endpoints.size(); ++i) {
    size_t at = (start + i) % options_.endpoints.size();
    const std::string& endpoint = options_.endpoints[at];
    auto token = Token(endpoint, false);
    if (!token.ok()) {
      last = token.status();
      continue;
    }
    auto reply = PostTo(endpoint, path, body, *token);
    // An expired or revoked token: authenticate again, once.
    if (reply.ok() && reply->http_status == 401 && !options_.username.empty()) {
      token = Token(endpoint, true);
      if (!token.ok()) {
        last = token.status();
        continue;
      }
      reply = PostTo(endpoint, path, body, *token);
    }
    if (!reply.ok()) {
      last = reply.status();
      continue;
    }
    if (reply->http_status >= 500) {
      last = Status::Unavailable(fmt::format("etcd {}{}: HTTP {}: {}", endpoint, path,
                                             reply->http_status, ErrorMessage(reply->body)));
      continue;
    }
    MutexLock lock(&mu_);
    preferred_ = at;
    return reply;
  }
  return last;
}

Result<KvValue> EtcdKv::Get(const std::string& key) {
  SLUICE_ASSIGN_OR_RETURN(
      Reply reply, Post("/v3/kv/range", fmt::format(R"({{"key":"{}"}})", Base64Encode(key))));
  if (reply.http_status != 200) {
    return Status::Unavailable(fmt::format("etcd range {}: HTTP {}: {}", key, reply.http_status,
                                           ErrorMessage(reply.body)));
  }
  dom::parser parser;
  dom::object obj;
  if (parser.parse(reply.body).get_object().get(obj) != simdjson::SUCCESS) {
    return Status::Unavailable("etcd range: response is not JSON");
  }
  KvValue out;
  dom::array kvs;
  if (obj["kvs"].get_array().get(kvs) == simdjson::SUCCESS) {
    for (dom::element kv : kvs) {
      dom::object o;
      if (kv.get_object().get(o) != simdjson::SUCCESS) continue;
      if (!Base64Decode(StringField(o, "value"), &out.value)) {
        return Status::Corruption("etcd range: value is not base64");
      }
      out.revision = IntField(o, "mod_revision");
    }
  }
  return out;
}

Result<int64_t> EtcdKv::CompareAndSwap(const std::string& key, int64_t expected_revision,
                                       const std::string& value) {
  std::string k = Base64Encode(key);
  std::string body = fmt::format(
      R"({{"compare":[{{"key":"{}","target":"MOD","result":"EQUAL","mod_revision":"{}"}}],)"
      R"("success":[{{"request_put":{{"key":"{}","value":"{}"}}}}]}})",
      k, expected_revision, k, Base64Encode(value));
  SLUICE_ASSIGN_OR_RETURN(Reply reply, Post("/v3/kv/txn", body));
  if (reply.http_status != 200) {
    return Status::Unavailable(
        fmt::format("etcd txn {}: HTTP {}: {}", key, reply.http_status, ErrorMessage(reply.body)));
  }
  dom::parser parser;
  dom::object obj;
  if (parser.parse(reply.body).get_object().get(obj) != simdjson::SUCCESS) {
    return Status::Unavailable("etcd txn: response is not JSON");
  }
  if (!BoolField(obj, "succeeded")) {
    return Status::Unavailable(
        fmt::format("{} on {}: expected revision {}", kRevisionConflict, key, expected_revision));
  }
  dom::object header;
  if (obj["header"].get_object().get(header) != simdjson::SUCCESS) {
    return Status::Unavailable("etcd txn: response has no header");
  }
  return IntField(header, "revision");
}

namespace {

struct WatchState {
  const std::function<bool(const KvValue&)>* on_change;
  const std::atomic<bool>* stop;
  std::chrono::steady_clock::time_point deadline;
  std::string buffer;
  bool done = false;  // on_change returned false
  Status error;       // the stream said something we cannot go on from
  dom::parser parser;

  // One newline-terminated message of the stream.
  bool HandleMessage(std::string_view line) {
    dom::object root, result;
    if (parser.parse(line).get_object().get(root) != simdjson::SUCCESS) return true;
    if (root["result"].get_object().get(result) != simdjson::SUCCESS) {
      error = Status::Unavailable(fmt::format("etcd watch: {}", ErrorMessage(std::string(line))));
      return false;
    }
    if (BoolField(result, "canceled")) {
      error = Status::Unavailable(fmt::format("etcd watch canceled: {} (compact revision {})",
                                              StringField(result, "cancel_reason"),
                                              IntField(result, "compact_revision")));
      return false;
    }
    dom::array events;
    if (result["events"].get_array().get(events) != simdjson::SUCCESS) return true;
    for (dom::element ev : events) {
      dom::object e, kv;
      if (ev.get_object().get(e) != simdjson::SUCCESS) continue;
      if (e["kv"].get_object().get(kv) != simdjson::SUCCESS) continue;
      KvValue v;
      v.revision = IntField(kv, "mod_revision");
      if (StringField(e, "type") != "DELETE" && !Base64Decode(StringField(kv, "value"), &v.value)) {
        error = Status::Corruption("etcd watch: value is not base64");
        return false;
      }
      if (!(*on_change)(v)) {
        done = true;
        return false;
      }
    }
    return true;
  }
};

size_t WatchWrite(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<WatchState*>(user);
  st->buffer.append(data, size * n);
  size_t start = 0;
  for (size_t nl; (nl = st->buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (!st->HandleMessage(std::string_view(st->buffer).substr(start, nl - start))) return 0;
  }
  st->buffer.erase(0, start);
  return size * n;
}

int WatchProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* st = static_cast<WatchState*>(user);
  return st->stop->load() || std::chrono::steady_clock::now() >= st->deadline ? 1 : 0;
}

}  // namespace

Status EtcdKv::Watch(const std::string& key, int64_t after_revision,
                     const std::function<bool(const KvValue&)>& on_change,
                     const std::atomic<bool>* stop, int64_t timeout_ns) {
  if (options_.endpoints.empty()) return Status::InvalidArgument("etcd: no endpoints configured");
  size_t at;
  {
    MutexLock lock(&mu_);
    at = preferred_;
  }
  // The watch goes to the endpoint that answered last; when it breaks the caller re-reads with
  // Get (which fails over) and watches again.
  const std::string& endpoint = options_.endpoints[at % options_.endpoints.size()];
  SLUICE_ASSIGN_OR_RETURN(std::string token, Token(endpoint, false));
  std::string body = fmt::format(R"({{"create_request":{{"key":"{}","start_revision":"{}"}}}})",
                                 Base64Encode(key), after_revision + 1);
  WatchState state;
  state.on_change = &on_change;
  state.stop = stop;
  state.deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);

  std::string url = BaseUrl(endpoint) + "/v3/watch";
  curl_slist* headers = nullptr;
  CURL* curl = NewPost(url, body, token, options_.dial_timeout_ns, &headers);
  if (curl == nullptr) return Status::Internal("curl_easy_init failed");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WatchWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, WatchProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(timeout_ns / 1'000'000) + 1);
  long http_status = 0;
  CURLcode rc = FinishRequest(curl, headers, &http_status);

  if (!state.error.ok()) return state.error;
  if (state.done || stop->load()) return Status::OK();
  if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_OPERATION_TIMEDOUT) {
    // Our deadline, not a failure: the caller watches again.
    if (std::chrono::steady_clock::now() >= state.deadline) return Status::OK();
  }
  if (rc != CURLE_OK) {
    return Status::Unavailable(fmt::format("etcd watch {}: {}", url, curl_easy_strerror(rc)));
  }
  if (http_status != 200) {
    return Status::Unavailable(fmt::format("etcd watch {}: HTTP {}", url, http_status));
  }
  // etcd closed the stream (it is shutting down).
  return Status::Unavailable(fmt::format("etcd watch {}: stream ended", url));
}

}  // namespace sluice::ring
