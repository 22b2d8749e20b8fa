#pragma once

// A real memcached server for tests: /usr/bin/memcached on 127.0.0.1 with a free port, killed by
// its PID when the object goes (as etcd_process.h does for etcd).
//
//   SLUICE_START_MEMCACHED_OR_RETURN(mc);  // in a test body; see SLUICE_REQUIRE_MEMCACHED
//   options.addresses = {mc->address()};

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

class MemcachedProcess {
 public:
  static constexpr const char* kBinary = "/usr/bin/memcached";

  // Starts memcached, or: with SLUICE_REQUIRE_MEMCACHED=1 and no memcached, records a test
  // failure; without it, returns null with *skip_reason set (the caller skips).
  static std::unique_ptr<MemcachedProcess> StartOrSkip(std::string* skip_reason) {
    if (!std::filesystem::exists(kBinary)) {
      const char* require = std::getenv("SLUICE_REQUIRE_MEMCACHED");
      if (require != nullptr && std::string(require) == "1") {
        ADD_FAILURE() << kBinary << " is missing and SLUICE_REQUIRE_MEMCACHED=1: install memcached "
                      << "(scripts/deps.sh --test)";
      } else {
        *skip_reason = "memcached tests skipped: /usr/bin/memcached is missing";
      }
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
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

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
    port_ = FreePort();
  }

  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  bool Accepts() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  bool Start() {
    // memcached refuses to run as root unless told which user to be.
    std::vector<std::string> args = {
        kBinary, "-l", "127.0.0.1", "-p", std::to_string(port_), "-U", "0", "-m", "64", "-t", "2"};
    if (::geteuid() == 0) {
      args.push_back("-u");
      args.push_back("root");
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(kBinary, argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {  // 10 s at most
      if (Accepts()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string log_;
  int port_ = 0;
  pid_t pid_ = -1;
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
