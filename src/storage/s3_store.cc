#include "storage/s3_store.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "common/curl.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "metrics/metrics.h"

// Requests are signed by libcurl (CURLOPT_AWS_SIGV4), which in 7.88 signs exactly what it is
// given, so this file hands it canonical requests:
//  - the path is already SigV4's canonical URI (S3UriEncode; CURLOPT_PATH_AS_IS keeps it);
//  - the query string is already canonical: parameters sorted, values encoded, "name=" even
//    when empty ("uploads=");
//  - the Host header is set explicitly, because libcurl 7.88 signs "host:<name>" without the port
//    otherwise, which a verifying server on a non-default port (MinIO on :9000) rejects;
//  - x-amz-content-sha256 is set explicitly (libcurl 7.88 does not add it and S3 requires it):
//    the hash of the empty body for requests without one, UNSIGNED-PAYLOAD for uploads (hashing
//    would need a SHA-256 this library does not otherwise link; TLS protects the bytes).
// Every header in CURLOPT_HTTPHEADER is signed, so none of them may be an empty "Name:" removal.

namespace sluice::storage {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr size_t kMaxIdleHandles = 32;

struct S3Metrics {
  metrics::Registry& r = metrics::DefaultRegistry();
  // Loki's aws client: operation "S3.GetObject" ..., status_code the HTTP status ("500" for a
  // request that got no response, as Loki's instrument.ErrorCode reports every error); one
  // observation per attempt.
  metrics::Family<metrics::Histogram>* duration =
      r.NewHistogram("loki_s3_request_duration_seconds", "Time spent doing S3 requests.",
                     {"operation", "status_code"}, {.025, .05, .1, .25, .5, 1, 2});
  metrics::Family<metrics::Counter>* retries =
      r.NewCounter("sluice_s3_request_retries_total",
                   "S3 requests retried after a 5xx, 429, SlowDown, timeout or connection error.",
                   {"operation"});
};
S3Metrics& Metrics() {
  static S3Metrics m;
  return m;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

// Splits "scheme://host[:port][/]" or "host[:port]".
struct Endpoint {
  std::string scheme;  // Empty when not given.
  std::string host;    // Without the port; IPv6 in brackets.
  std::string port;    // Empty when not given.
};

Result<Endpoint> ParseEndpoint(std::string_view s) {
  Endpoint e;
  if (auto p = s.find("://"); p != std::string_view::npos) {
    e.scheme = std::string(s.substr(0, p));
    if (e.scheme != "http" && e.scheme != "https") {
      return Status::InvalidArgument(fmt::format("s3 endpoint '{}': scheme must be http(s)", s));
    }
    s.remove_prefix(p + 3);
  }
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  if (s.empty() || s.find('/') != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("s3 endpoint '{}' must be host[:port], with no path", s));
  }
  size_t colon = s.rfind(':');
  size_t bracket = s.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    e.port = std::string(s.substr(colon + 1));
    s = s.substr(0, colon);
    if (e.port.empty() || !std::all_of(e.port.begin(), e.port.end(), ::isdigit)) {
      return Status::InvalidArgument(fmt::format("s3 endpoint port '{}' is not a number", e.port));
    }
  }
  e.host = std::string(s);
  return e;
}

bool IsIpOrLocalhost(std::string_view host) {
  if (host == "localhost" || (!host.empty() && host.front() == '[')) return true;
  return !host.empty() && std::all_of(host.begin(), host.end(),
                                      [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// Bucket names that work as a DNS label in front of the endpoint.
bool IsDnsCompatible(std::string_view bucket, bool https) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  // A dotted name breaks the wildcard certificate of *.s3.amazonaws.com.
  if (https && bucket.find('.') != std::string_view::npos) return false;
  return bucket.front() != '-' && bucket.back() != '-';
}

// --- The small XML S3 answers with. No XML library is among sluice's dependencies, and S3's
// replies are flat enough to read by element name.

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes the five predefined entities and numeric references (&#13; &#x1F;); anything else is
// kept as written.
std::string XmlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) {
      out.push_back(s[i++]);
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    static constexpr std::pair<std::string_view, char> kNamed[] = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    bool done = false;
    for (const auto& [name, c] : kNamed) {
      if (ent == name) {
        out.push_back(c);
        done = true;
      }
    }
    if (!done && ent.size() >= 2 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string digits(ent.substr(hex ? 2 : 1));
      char* end = nullptr;
      unsigned long cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
      if (!digits.empty() && *end == '\0' && cp <= 0x10FFFF) {
        AppendUtf8(&out, static_cast<uint32_t>(cp));
        done = true;
      }
    }
    if (done) {
      i = semi + 1;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// The decoded text of every <tag>...</tag> in `xml`, in order (an empty <tag/> gives "").
std::vector<std::string> XmlAll(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  const std::string open = fmt::format("<{}", tag);
  const std::string close = fmt::format("</{}>", tag);
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    size_t after = pos + open.size();
    if (after >= xml.size()) break;
    char next = xml[after];
    if (next != '>' && next != ' ' && next != '/') {  // <KeyCount> is not <Key>.
      pos = after;
      continue;
    }
    size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) break;
    if (xml[gt - 1] == '/') {
      out.emplace_back();
      pos = gt + 1;
      continue;
    }
    size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    out.push_back(XmlDecode(xml.substr(gt + 1, end - gt - 1)));
    pos = end + close.size();
  }
  return out;
}

std::string XmlFirst(std::string_view xml, std::string_view tag) {
  auto all = XmlAll(xml, tag);
  return all.empty() ? std::string() : all.front();
}

}  // namespace

std::string S3UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<S3Options> ResolveS3Options(S3Options o) {
  if (o.bucket.empty()) return Status::InvalidArgument("s3: a bucket (bucketnames) is required");
  if (o.bucket.find(',') != std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("s3: bucketnames '{}': sluice stores in exactly one bucket", o.bucket));
  }
  if (o.bucket.find('/') != std::string::npos) {
    return Status::InvalidArgument(fmt::format("s3: bucket name '{}' contains '/'", o.bucket));
  }
  if (o.region.empty()) o.region = Env("AWS_REGION");
  if (o.region.empty()) o.region = Env("AWS_DEFAULT_REGION");
  if (o.region.empty()) o.region = "us-east-1";
  if (o.region.find(':') != std::string::npos) {
    return Status::InvalidArgument(fmt::format("s3: region '{}' contains ':'", o.region));
  }
  if (o.endpoint.empty()) o.endpoint = fmt::format("s3.{}.amazonaws.com", o.region);
  SLUICE_RETURN_IF_ERROR(ParseEndpoint(o.endpoint).status());
  if (o.access_key_id.empty() && o.secret_access_key.empty()) {
    o.access_key_id = Env("AWS_ACCESS_KEY_ID");
    o.secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
    if (o.session_token.empty()) o.session_token = Env("AWS_SESSION_TOKEN");
  }
  if (o.access_key_id.empty() != o.secret_access_key.empty()) {
    return Status::InvalidArgument(
        "s3: supply both access_key_id and secret_access_key, or neither");
  }
  if (o.multipart_part_size == 0 || o.multipart_threshold == 0) {
    return Status::InvalidArgument("s3: multipart threshold and part size must be positive");
  }
  if (o.list_page_size < 1 || o.list_page_size > 1000) {
    return Status::InvalidArgument("s3: list page size must be within 1..1000");
  }
  if (o.max_retries < 0) return Status::InvalidArgument("s3: max_retries must be >= 0");
  return o;
}

S3Target S3TargetFor(const S3Options& o, std::string_view key, std::string_view query) {
  Endpoint e = *ParseEndpoint(o.endpoint);  // Checked by ResolveS3Options.
  std::string scheme = !e.scheme.empty() ? e.scheme : (o.insecure ? "http" : "https");
  std::string authority = e.port.empty() ? e.host : e.host + ":" + e.port;
  bool path_style = o.force_path_style || IsIpOrLocalhost(e.host) ||
                    !IsDnsCompatible(o.bucket, scheme == "https");
  S3Target t;
  std::string path;
  if (path_style) {
    t.host = authority;
    path = "/" + S3UriEncode(o.bucket, false) + "/" + S3UriEncode(key, true);
    if (key.empty()) path.pop_back();  // "/bucket", as the SDKs send bucket requests.
  } else {
    t.host = o.bucket + "." + authority;
    path = "/" + S3UriEncode(key, true);
  }
  t.url = scheme + "://" + t.host + path;
  if (!query.empty()) t.url += fmt::format("?{}", query);
  return t;
}

namespace {

struct Response {
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;  // When curl_code != CURLE_OK.
  long status = 0;
  std::string body;
  std::string etag;           // The ETag header (UploadPart answers with it).
  std::string content_range;  // The Content-Range header of a 206: "bytes 0-9/100".
  std::string attempts_note;  // " (after 3 attempts)" when retried, for the error message.

  bool transport_failed() const { return curl_code != CURLE_OK; }
  bool ok() const { return !transport_failed() && status >= 200 && status < 300; }
  // The S3 error code of an error body ("NoSuchKey"), or "".
  std::string error_code() const { return XmlFirst(body, "Code"); }
};

struct Request {
  const char* method;    // GET, HEAD, PUT, POST, DELETE.
  std::string_view op;   // The metric's operation and the errors' verb: "S3.GetObject".
  std::string_view key;  // Empty: the bucket.
  std::string query;     // Canonical (see the top of the file).
  std::vector<std::string> headers;
  const std::string_view* body = nullptr;  // Uploads (PUT, POST) only; may be empty.
};

struct ReadState {
  std::string_view rest;
};

size_t ReadBody(char* buf, size_t size, size_t nitems, void* user) {
  auto* st = static_cast<ReadState*>(user);
  size_t n = std::min(size * nitems, st->rest.size());
  std::copy_n(st->rest.data(), n, buf);
  st->rest.remove_prefix(n);
  return n;
}

size_t WriteBody(char* ptr, size_t size, size_t nmemb, void* user) {
  static_cast<std::string*>(user)->append(ptr, size * nmemb);
  return size * nmemb;
}

size_t OnHeader(char* buf, size_t size, size_t nitems, void* user) {
  std::string_view line(buf, size * nitems);
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * nitems;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  std::string_view v = line.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
    v.remove_suffix(1);
  }
  auto* r = static_cast<Response*>(user);
  if (name == "etag") r->etag = std::string(v);
  if (name == "content-range") r->content_range = std::string(v);
  return size * nitems;
}

// The first byte's offset in a 206 reply's body ("bytes 5-9/100" -> 5), or `fallback`.
uint64_t RangeStart(std::string_view content_range, uint64_t fallback) {
  constexpr std::string_view kBytes = "bytes ";
  if (!content_range.starts_with(kBytes)) return fallback;
  std::string digits(content_range.substr(kBytes.size()));
  char* end = nullptr;
  unsigned long long start = std::strtoull(digits.c_str(), &end, 10);
  if (end == digits.c_str() || *end != '-') return fallback;
  return start;
}

bool Retryable(const Response& r) {
  if (r.transport_failed()) return true;  // Connect errors, resets, timeouts.
  if (r.status >= 500 || r.status == 429) return true;
  return r.error_code() == "SlowDown" || r.error_code() == "RequestTimeout";
}

class S3Store final : public ObjectStore {
 public:
  explicit S3Store(S3Options o) : o_(std::move(o)) {
    CurlGlobalInitOnce();
    std::random_device rd;
    rng_.seed((static_cast<uint64_t>(rd()) << 32) | rd());
  }

  ~S3Store() override {
    MutexLock lock(&mu_);
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  Status Put(std::string_view key, std::string_view data) override {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    if (data.size() >= o_.multipart_threshold) return PutMultipart(key, data);
    Request req{"PUT", "S3.PutObject", key, "", {}, &data};
    req.headers.push_back("Content-Type: application/octet-stream");
    Response r = Perform(req);
    if (!r.ok()) return ErrorFor(req, r);
    return Status::OK();
  }

  Result<std::string> Get(std::string_view key) override {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    Request req{"GET", "S3.GetObject", key, "", {}, nullptr};
    Response r = Perform(req);
    if (!r.ok()) return ErrorFor(req, r);
    return std::move(r.body);
  }

  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    if (length == 0) {  // No byte range means nothing; only whether the object exists.
      Request req{"HEAD", "S3.HeadObject", key, "", {}, nullptr};
      Response r = Perform(req);
      if (!r.ok()) return ErrorFor(req, r);
      return std::string();
    }
    Request req{"GET", "S3.GetObject", key, "", {}, nullptr};
    if (length > UINT64_MAX - offset) {
      req.headers.push_back(fmt::format("Range: bytes={}-", offset));
    } else {
      req.headers.push_back(fmt::format("Range: bytes={}-{}", offset, offset + length - 1));
    }
    Response r = Perform(req);
    // 416: the object exists (a missing one is 404) and the range starts at or past its end.
    if (!r.transport_failed() && r.status == 416) return std::string();
    if (!r.ok()) return ErrorFor(req, r);
    // Take the bytes asked for from what came: a server may ignore Range (200, the whole
    // object) or send more than asked (s3rver answers "bytes=0-0" with everything).
    uint64_t body_start = r.status == 206 ? RangeStart(r.content_range, offset) : 0;
    if (offset < body_start) {
      return Status::IOError(fmt::format("s3 {} '{}' in bucket {}: asked for bytes from {}, got {}",
                                         req.op, key, o_.bucket, offset, r.content_range));
    }
    uint64_t skip = offset - body_start;
    if (skip == 0 && r.body.size() <= length) return std::move(r.body);
    if (skip >= r.body.size()) return std::string();
    return r.body.substr(skip, std::min<uint64_t>(length, r.body.size() - skip));
  }

  Result<std::vector<std::string>> List(std::string_view prefix) override {
    SLUICE_RETURN_IF_ERROR(ValidatePrefix(prefix));
    std::vector<std::string> keys;
    std::string token;
    // Bounded: each page has at least one key or ends the listing, and S3 buckets are finite;
    // the cap only stops a server that keeps answering "truncated" with the same token.
    for (int page = 0; page < 10'000'000; ++page) {
      std::string query;
      if (!token.empty()) query += "continuation-token=" + S3UriEncode(token, false) + "&";
      query += fmt::format("list-type=2&max-keys={}", o_.list_page_size);
      if (!prefix.empty()) query += "&prefix=" + S3UriEncode(prefix, false);
      Request req{"GET", "S3.List", "", query, {}, nullptr};
      Response r = Perform(req);
      if (!r.ok()) return ErrorFor(req, r, prefix);
      // Keys are inside <Contents>; nothing else in a ListObjectsV2 reply has a <Key>.
      for (auto& k : XmlAll(r.body, "Key")) keys.push_back(std::move(k));
      if (XmlFirst(r.body, "IsTruncated") != "true") break;
      std::string next = XmlFirst(r.body, "NextContinuationToken");
      if (next.empty() || next == token) {
        return Status::IOError(fmt::format(
            "s3 S3.List prefix '{}' in bucket {}: truncated reply without a new continuation token",
            prefix, o_.bucket));
      }
      token = std::move(next);
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
  }

  Status Delete(std::string_view key) override {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    Request req{"DELETE", "S3.DeleteObject", key, "", {}, nullptr};
    Response r = Perform(req);
    if (!r.transport_failed() && (r.status == 404 || r.error_code() == "NoSuchKey")) {
      return Status::OK();
    }
    if (!r.ok()) return ErrorFor(req, r);
    return Status::OK();
  }

 private:
  Status PutMultipart(std::string_view key, std::string_view data) {
    std::string_view empty;
    Request create{"POST", "S3.CreateMultipartUpload", key, "uploads=", {}, &empty};
    Response r = Perform(create);
    if (!r.ok()) return ErrorFor(create, r);
    std::string upload_id = XmlFirst(r.body, "UploadId");
    if (upload_id.empty()) {
      return Status::IOError(
          fmt::format("s3 S3.CreateMultipartUpload '{}': no UploadId in the reply", key));
    }
    const std::string id_query = "uploadId=" + S3UriEncode(upload_id, false);
    std::string complete_xml = "<CompleteMultipartUpload>";
    Status failed;
    for (uint64_t off = 0, part = 1; off < data.size(); off += o_.multipart_part_size, ++part) {
      std::string_view chunk = data.substr(off, o_.multipart_part_size);
      Request up{"PUT", "S3.UploadPart", key, fmt::format("partNumber={}&{}", part, id_query),
                 {},    &chunk};
      Response pr = Perform(up);
      if (!pr.ok()) {
        failed = ErrorFor(up, pr);
        break;
      }
      if (pr.etag.empty()) {
        failed = Status::IOError(
            fmt::format("s3 S3.UploadPart '{}' part {}: no ETag in the reply", key, part));
        break;
      }
      complete_xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", part,
                                  XmlEscape(pr.etag));
    }
    if (failed.ok()) {
      complete_xml += "</CompleteMultipartUpload>";
      std::string_view body = complete_xml;
      Request done{"POST", "S3.CompleteMultipartUpload", key, id_query, {}, &body};
      done.headers.push_back("Content-Type: application/xml");
      Response cr = Perform(done);
      // S3 may answer 200 and report the failure in the body.
      if (cr.ok() && cr.body.find("<Error>") == std::string::npos) return Status::OK();
      if (cr.ok()) cr.status = 500;
      failed = ErrorFor(done, cr);
    }
    // Best effort: an upload left behind only costs storage until a lifecycle rule drops it.
    Request abort{"DELETE", "S3.AbortMultipartUpload", key, id_query, {}, nullptr};
    Perform(abort);
    return failed;
  }

  // "s3 S3.GetObject 'chunks/x' in bucket b: HTTP 403 AccessDenied: <message>".
  Status ErrorFor(const Request& req, const Response& r, std::string_view list_prefix = {}) {
    std::string what =
        req.key.empty()
            ? fmt::format("s3 {} prefix '{}' in bucket {}", req.op, list_prefix, o_.bucket)
            : fmt::format("s3 {} '{}' in bucket {}", req.op, req.key, o_.bucket);
    if (r.transport_failed()) {
      return Status::Unavailable(fmt::format("{}: {} ({}){}", what, r.curl_error,
                                             curl_easy_strerror(r.curl_code), r.attempts_note));
    }
    std::string code = r.error_code();
    std::string message = XmlFirst(r.body, "Message");
    std::string text = fmt::format("{}: HTTP {}", what, r.status);
    if (!code.empty()) text += " " + code;
    if (!message.empty()) text += ": " + message;
    text += r.attempts_note;
    if (r.status == 404 || code == "NoSuchKey") return Status::NotFound(text);
    if (r.status == 401 || r.status == 403) return Status::Unauthenticated(text);
    if (r.status == 429 || code == "SlowDown") return Status::RateLimited(text);
    if (r.status >= 500) return Status::Unavailable(text);
    return Status::IOError(text);
  }

  CURL* Acquire() EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }

  // Keeps the handle, and with it its open connections, for the next request.
  void Release(CURL* h) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (idle_.size() < kMaxIdleHandles) {
      idle_.push_back(h);
      return;
    }
    curl_easy_cleanup(h);
  }

  int64_t Jitter(int64_t max_ns) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(max_ns, 0))(rng_);
  }

  // One request with retries. The response is the last attempt's.
  Response Perform(const Request& req) {
    const auto deadline = Clock::now() + std::chrono::nanoseconds(o_.operation_timeout_ns);
    int64_t backoff = std::max<int64_t>(o_.min_backoff_ns, 1'000'000);
    Response r;
    for (int attempt = 0;; ++attempt) {
      auto remaining =
          std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
      r = Attempt(req, std::min<int64_t>(o_.request_timeout_ns, remaining.count()));
      if (!Retryable(r) || attempt >= o_.max_retries) {
        if (attempt > 0) r.attempts_note = fmt::format(" (after {} attempts)", attempt + 1);
        return r;
      }
      // Half the period fixed, half random, so clients that failed together spread out.
      int64_t sleep_ns = backoff / 2 + Jitter(backoff / 2);
      if (Clock::now() + std::chrono::nanoseconds(sleep_ns) >= deadline) {
        r.attempts_note = fmt::format(" (after {} attempts; operation timeout {} ms reached)",
                                      attempt + 1, o_.operation_timeout_ns / 1'000'000);
        return r;
      }
      Metrics().retries->WithLabels({std::string(req.op)})->Inc();
      std::this_thread::sleep_for(std::chrono::nanoseconds(sleep_ns));
      backoff = std::min(backoff * 2, std::max(o_.max_backoff_ns, o_.min_backoff_ns));
    }
  }

  Response Attempt(const Request& req, int64_t timeout_ns) {
    Response r;
    S3Target target = S3TargetFor(o_, req.key, req.query);
    CURL* h = Acquire();
    if (h == nullptr) {
      r.curl_code = CURLE_FAILED_INIT;
      r.curl_error = "curl_easy_init failed";
      return r;
    }
    curl_easy_reset(h);  // Keeps the connection cache; drops the last request's options.
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, target.url.c_str());
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(o_.connect_timeout_ns / 1'000'000, 1)));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(timeout_ns / 1'000'000, 1)));
    if (o_.response_header_timeout_ns > 0) {
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                       static_cast<long>(std::max<int64_t>(
                           (o_.response_header_timeout_ns + 999'999'999) / 1'000'000'000, 1)));
    }
    curl_easy_setopt(
        h, CURLOPT_MAXAGE_CONN,
        static_cast<long>(std::max<int64_t>(o_.idle_conn_timeout_ns / 1'000'000'000, 1)));
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 1000L);
    if (!o_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o_.ca_file.c_str());
    if (o_.insecure_skip_verify) {
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    std::vector<std::string> headers = req.headers;
    headers.push_back("Host: " + target.host);
    headers.push_back(
        fmt::format("x-amz-content-sha256: {}",
                    req.body != nullptr && !req.body->empty() ? "UNSIGNED-PAYLOAD" : kEmptySha256));
    if (!o_.access_key_id.empty()) {
      if (!o_.session_token.empty()) headers.push_back("x-amz-security-token: " + o_.session_token);
      std::string sigv4 = fmt::format("aws:amz:{}:s3", o_.region);
      curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
      curl_easy_setopt(h, CURLOPT_USERNAME, o_.access_key_id.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, o_.secret_access_key.c_str());
    }
    curl_slist* list = nullptr;
    for (const auto& hdr : headers) list = curl_slist_append(list, hdr.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);

    ReadState reader;
    const std::string_view method = req.method;
    if (req.body != nullptr) {
      reader.rest = *req.body;
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadBody);
      curl_easy_setopt(h, CURLOPT_READDATA, &reader);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body->size()));
      if (method != "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method);
    } else if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);

    const auto start = Clock::now();
    r.curl_code = curl_easy_perform(h);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    if (r.transport_failed()) {
      r.curl_error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(r.curl_code);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_slist_free_all(list);
    if (r.transport_failed()) {
      // The connection may be half-used; a fresh handle is cheaper than reasoning about it.
      curl_easy_cleanup(h);
    } else {
      Release(h);
    }
    std::string status_code = r.transport_failed() ? "500" : std::to_string(r.status);
    Metrics().duration->WithLabels({std::string(req.op), status_code})->Observe(seconds);
    return r;
  }

  const S3Options o_;
  Mutex mu_;
  std::vector<CURL*> idle_ GUARDED_BY(mu_);
  std::mt19937_64 rng_ GUARDED_BY(mu_);
};

}  // namespace

Result<ObjectStorePtr> NewS3Store(S3Options options) {
  SLUICE_ASSIGN_OR_RETURN(S3Options resolved, ResolveS3Options(std::move(options)));
  return ObjectStorePtr(std::make_unique<S3Store>(std::move(resolved)));
}

}  // namespace sluice::storage
