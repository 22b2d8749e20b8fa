#pragma once

// What the tests' real servers (etcd_process.h, memcached_process.h, s3rver_process.h) share: a
// free loopback port, a child process with its output appended to a log file and killed and
// reaped by its PID, and the rule for a missing server binary (a failure when the test run
// requires it, a skip otherwise).

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace sluice::testing {

// A TCP port that was free on 127.0.0.1 a moment ago.
inline int FreeLoopbackPort() {
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

// Whether something accepts TCP connections on 127.0.0.1:port.
inline bool LoopbackAccepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// For a server that is not installed: a test failure when the environment variable `require_env`
// is "1" (scripts/test.sh sets it: there a missing server is a broken install), else a skip with
// `skip_message` in *skip_reason.
inline void MissingServer(const char* require_env, const std::string& failure,
                          const std::string& skip_message, std::string* skip_reason) {
  const char* require = std::getenv(require_env);
  if (require != nullptr && std::string(require) == "1") {
    ADD_FAILURE() << failure << " and " << require_env << "=1";
  } else {
    *skip_reason = skip_message;
  }
}

// One child process: started by Spawn, SIGKILLed and reaped by Kill (and the destructor).
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { Kill(); }

  // Runs args[0] with `args`, stdout and stderr appended to `log`, with `env` ("NAME=value")
  // added to the environment.
  void Spawn(std::vector<std::string> args, const std::string& log,
             const std::vector<std::string>& env = {}) {
    Kill();
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }

  bool running() const { return pid_ > 0; }

  // True (and forgotten) if the child has exited by itself: a port taken, a bad install.
  bool Exited() {
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace sluice::testing
