#pragma once

// Wiring of the single binary (-target=all): object store, index, ingester, distributor,
// querier and the HTTP API, started and stopped in the right order.

#include <atomic>
#include <functional>
#include <memory>

#include "common/status.h"
#include "config/config.h"

namespace sluice {

class App {
 public:
  explicit App(config::Config config);
  ~App();

  // Starts the HTTP server first (so /ready answers 503 during WAL replay), then replays the
  // WAL and starts the background loops.
  Status Start();
  // Graceful stop (SIGTERM): refuse pushes, flush chunks, checkpoint, stop serving.
  void Shutdown();
  // Set when something (POST /ingester/shutdown?terminate=true) asked the process to exit.
  void SetExitRequester(std::function<void()> request_exit);
  int http_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
