#pragma once

// One push attempt over HTTP. The interface lets the sender be driven by a fake in tests; the
// real one is libcurl (keep-alive connection per worker, TLS through OpenSSL).

#include <memory>
#include <string>
#include <string_view>

#include "agent/backoff.h"
#include "agent/config.h"

namespace sluice::agent {

class PushClient {
 public:
  virtual ~PushClient() = default;
  // Sends one body; never throws. Blocks for at most client.timeout.
  // `content_encoding` is sent as Content-Encoding when not empty ("gzip").
  virtual PushResult Push(std::string_view body, const std::string& content_type,
                          const std::string& content_encoding) = 0;
};
using PushClientPtr = std::unique_ptr<PushClient>;

PushClientPtr NewCurlPushClient(const AgentConfig::Client& config);

}  // namespace sluice::agent
