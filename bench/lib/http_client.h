#pragma once

// A minimal blocking HTTP/1.1 client with keep-alive, for the load generator and the query
// runner: one connection per thread, no TLS, Content-Length or chunked responses.
// Not thread-safe: one HttpConnection per thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::bench {

struct HttpResponse {
  int status = 0;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpConnection {
 public:
  HttpConnection(std::string host, int port, int timeout_ms = 60'000);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends one request and reads the whole response. Connects on first use; if a kept-alive
  // connection turns out closed before any response byte arrived, reconnects and retries once.
  // IOError for connection failures and timeouts.
  Result<HttpResponse> Do(std::string_view method, std::string_view target,
                          const HttpHeaders& headers, std::string_view body);

 private:
  Status Connect();
  void Disconnect();
  Result<HttpResponse> DoOnce(std::string_view head, std::string_view body, bool* nothing_received);
  // Reads at least one more byte into buf_; false on EOF or error.
  bool Fill();

  std::string host_;
  int port_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buf_;  // bytes received but not consumed
};

// Percent-encodes a query parameter value.
std::string UrlEncode(std::string_view s);

}  // namespace sluice::bench
