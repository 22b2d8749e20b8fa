#pragma once

// A real memcached server for tests: /usr/bin/memcached on 127.0.0.1 with a free port, killed by
// its PID when the object goes (as etcd_process.h does for etcd).
//
//   SLUICE_START_MEMCACHED_OR_RETURN(mc);  // in a test body; see SLUICE_REQUIRE_MEMCACHED
//   options.addresses = {mc->address()};

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "testing/child_process.h"

namespace sluice::testing {

class MemcachedProcess {
 public:
  static constexpr const char* kBinary = "/usr/bin/memcached";

  // Starts memcached, or: with SLUICE_REQUIRE_MEMCACHED=1 and no memcached, records a test
  // failure; without it, returns null with *skip_reason set (the caller skips).
  static std::unique_ptr<MemcachedProcess> StartOrSkip(std::string* skip_reason) {
    if (!std::filesystem::exists(kBinary)) {
      MissingServer(
          "SLUICE_REQUIRE_MEMCACHED",
          std::string(kBinary) + " is missing (scripts/deps.sh --test installs memcached)",
          "memcached tests skipped: /usr/bin/memcached is missing", skip_reason);
      return nullptr;
    }
    auto p = std::unique_ptr<MemcachedProcess>(new MemcachedProcess());
    if (!p->Start()) {
      ADD_FAILURE() << "memcached did not start; log: " << p->log_;
      return nullptr;
    }
    return p;
  }

  ~MemcachedProcess() {
    Kill();
    std::error_code ec;
    std::filesystem::remove(log_, ec);
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  // SIGKILL and reap.
  void Kill() { process_.Kill(); }

  // Starts memcached again on the same port (empty: memcached keeps nothing); false if it does
  // not accept connections within 10 s.
  bool Restart() {
    Kill();
    return Start();
  }

 private:
  MemcachedProcess() {
    char tmpl[] = "/tmp/sluice-memcached-XXXXXX";
    int fd = ::mkstemp(tmpl);
    ::close(fd);
    log_ = tmpl;
    port_ = FreeLoopbackPort();
  }

  bool Start() {
    // memcached refuses to run as root unless told which user to be.
    std::vector<std::string> args = {
        kBinary, "-l", "127.0.0.1", "-p", std::to_string(port_), "-U", "0", "-m", "64", "-t", "2"};
    if (::geteuid() == 0) {
      args.push_back("-u");
      args.push_back("root");
    }
    process_.Spawn(std::move(args), log_);
    for (int i = 0; i < 200; ++i) {  // 10 s at most
      if (LoopbackAccepts(port_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string log_;
  int port_ = 0;
  ChildProcess process_;
};

}  // namespace sluice::testing

// Declares `var`, a started MemcachedProcess, or skips / fails the test and returns.
#define SLUICE_START_MEMCACHED_OR_RETURN(var)                               \
  std::string var##_skip;                                                   \
  auto var = ::sluice::testing::MemcachedProcess::StartOrSkip(&var##_skip); \
  if (!var) {                                                               \
    if (!var##_skip.empty()) GTEST_SKIP() << var##_skip;                    \
    return;                                                                 \
  }
