#pragma once

// A real etcd server for tests: /usr/bin/etcd (Debian's etcd-server) on 127.0.0.1 with free
// ports and a temporary data directory, killed by its PID when the object goes. Restart() keeps
// the ports and the data, as an operator restarting etcd would.
//
//   SLUICE_START_ETCD_OR_RETURN(etcd);  // in a test body; see SLUICE_REQUIRE_ETCD
//   ring::EtcdKv kv({.endpoints = {etcd->endpoint()}});

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ring/etcd_kv.h"
#include "testing/child_process.h"

namespace sluice::testing {

// Client options for tests: short timeouts so an outage is noticed quickly.
inline ring::EtcdOptions TestEtcdOptions(std::vector<std::string> endpoints,
                                         int64_t dial_timeout_ns = 500'000'000,
                                         int64_t request_timeout_ns = 2'000'000'000) {
  ring::EtcdOptions o;
  o.endpoints = std::move(endpoints);
  o.dial_timeout_ns = dial_timeout_ns;
  o.request_timeout_ns = request_timeout_ns;
  return o;
}

class EtcdProcess {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";

  // Starts etcd, or: with SLUICE_REQUIRE_ETCD=1 and no etcd, records a test failure; without it,
  // returns null with *skip_reason set (the caller skips).
  static std::unique_ptr<EtcdProcess> StartOrSkip(std::string* skip_reason) {
    if (!std::filesystem::exists(kBinary)) {
      MissingServer(
          "SLUICE_REQUIRE_ETCD",
          std::string(kBinary) + " is missing (scripts/deps.sh --test installs etcd-server)",
          "etcd tests skipped: /usr/bin/etcd is missing (apt-get install etcd-server)",
          skip_reason);
      return nullptr;
    }
    auto p = std::unique_ptr<EtcdProcess>(new EtcdProcess());
    if (!p->Start()) {
      ADD_FAILURE() << "etcd did not start; log: " << p->dir_ << "/etcd.log";
      return nullptr;
    }
    return p;
  }

  ~EtcdProcess() {
    Kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }

  // SIGKILL and reap.
  void Kill() { process_.Kill(); }

  // Starts etcd again on the same ports and data; false if it does not answer within 20 s.
  bool Restart() {
    Kill();
    return Start();
  }

 private:
  EtcdProcess() {
    char tmpl[] = "/tmp/sluice-etcd-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    client_port_ = FreeLoopbackPort();
    peer_port_ = FreeLoopbackPort();
  }

  bool Start() {
    std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> args = {kBinary,
                                     "--name=sluice-test",
                                     "--data-dir=" + dir_ + "/data",
                                     "--listen-client-urls=" + client,
                                     "--advertise-client-urls=" + client,
                                     "--listen-peer-urls=" + peer,
                                     "--initial-advertise-peer-urls=" + peer,
                                     "--initial-cluster=sluice-test=" + peer};
    process_.Spawn(std::move(args), dir_ + "/etcd.log");
    ring::EtcdKv probe(TestEtcdOptions({endpoint()}, 500'000'000, 1'000'000'000));
    for (int i = 0; i < 200; ++i) {  // 20 s at most
      if (probe.Get("probe").ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  ChildProcess process_;
};

}  // namespace sluice::testing

// Declares `var`, a started EtcdProcess, or skips / fails the test and returns.
#define SLUICE_START_ETCD_OR_RETURN(var)                               \
  std::string var##_skip;                                              \
  auto var = ::sluice::testing::EtcdProcess::StartOrSkip(&var##_skip); \
  if (!var) {                                                          \
    if (!var##_skip.empty()) GTEST_SKIP() << var##_skip;               \
    return;                                                            \
  }
