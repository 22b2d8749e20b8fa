#pragma once

// sluice agent: a bounded, failure-aware log shipper (`sluice agent -config.file=agent.yaml`).
//
//   readers ──Item──> ItemQueue ──> batcher ──Batch──> Sender (max_inflight workers) ──HTTP──>
//   server (files, stdin,    charged to      cuts by size/wait,  retries, backoff, breaker
//    journal;         MemoryBudget   journals positions  acks -> Positions, budget release
//    multiline, shed, backpressure)
//
// Threads: one file reader, one stdin reader (optional), one per journal source, the batcher,
// max_inflight senders, the positions/metrics sync loop and the /metrics server's io thread.
// See docs/agent.md.

#include <memory>
#include <string>
#include <vector>

#include "agent/config.h"
#include "common/status.h"

namespace sluice::agent {

class Agent {
 public:
  explicit Agent(AgentConfig config);
  ~Agent();

  Status Start();
  // True when every source is finished (stdin reached its end) and everything read was handed
  // to the sender: the caller may Stop().
  bool SourcesDone() const;
  // Graceful stop: stop reading, send what was read (up to shutdown_timeout), save positions.
  // Returns the process exit code.
  int Stop();
  // The /metrics port actually bound (0 when disabled).
  int metrics_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The `sluice agent ...` entry point: `args` are the arguments after "agent". Returns the exit
// code.
int RunAgent(const std::vector<std::string>& args);

}  // namespace sluice::agent
