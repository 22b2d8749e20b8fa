#pragma once

// The syslog listeners: one per configured `syslog.listeners` entry, TCP or UDP, all served by
// a small pool of Boost.Asio threads of their own (apart from HTTP's).
//
// TCP: each connection is framed by its first byte (framing.h), has its own read deadline
// (idle_timeout) and its own strand; at most max_connections per listener (more are accepted and
// closed at once). A connection's bad frame is discarded and counted; only a broken octet count
// closes that connection, never another.
// UDP: one message per datagram, or several separated by LF.
//
// Entries are batched per listener (ingest.h) and pushed when a batch fills or every
// flush_interval; Stop() flushes what is left.

#include <cstdint>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"
#include "config/overrides.h"
#include "syslog/ingest.h"

namespace sluice::syslog {

struct ServerOptions {
  int threads = 2;
  int64_t flush_interval_ns = 100'000'000;
  Batcher::Options batch;
};

class Server {
 public:
  // `overrides` (may be null: every tenant allows structured metadata) and `clock` must outlive
  // the server.
  Server(std::vector<config::Config::SyslogListener> listeners, config::Overrides* overrides,
         PushFn push, Clock* clock, ServerOptions options);
  ~Server();

  // Checks every listener's settings and binds them all; on an error nothing is left listening.
  Status Start();
  // Stops accepting and receiving, closes connections, waits for the threads, then pushes what
  // is still batched. Idempotent.
  void Stop();

  // The port listener `i` is bound to (useful with port 0). REQUIRES: Start() succeeded.
  int port(size_t i) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Checks one listener's settings (protocol, address, tenant, labels, label_fields, sizes); the
// error names the listener as syslog.listeners[i].
Status ValidateListener(const config::Config::SyslogListener& listener, size_t index);

}  // namespace sluice::syslog
