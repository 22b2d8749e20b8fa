// sluice: a Loki-compatible log aggregation server. `sluice -config.file=sluice.yaml`.

#include <fmt/ranges.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "common/logging.h"
#include "config/config.h"
#include "main/app.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "agent") {
    return sluice::agent::RunAgent(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  for (const auto& a : args) {
    if (a == "-h" || a == "-help" || a == "--help") {
      std::printf(
          "usage: sluice [-config.file=FILE] [-<section>.<key>=VALUE ...]\n"
          "  Every YAML key is a flag: -server.http-listen-port=3100, "
          "-limits_config.ingestion_rate_mb=8,\n"
          "  -ingester.wal.fsync=never. See README.md for the configuration reference.\n");
      return 0;
    }
  }
  auto config = sluice::config::LoadConfig(args);
  if (!config.ok()) {
    std::fprintf(stderr, "sluice: invalid configuration: %s\n", config.status().message().c_str());
    return 1;
  }
  sluice::Status st = sluice::SetupLogging(config->server.log_level, config->server.log_format);
  if (!st.ok()) {
    std::fprintf(stderr, "sluice: %s\n", st.message().c_str());
    return 1;
  }
  if (!config->ignored_loki_keys.empty()) {
    spdlog::warn(
        "msg=\"ignoring Loki configuration keys that have no meaning in sluice "
        "(docs/loki-config.md)\" "
        "keys=\"{}\"",
        fmt::join(config->ignored_loki_keys, ", "));
  }
  for (const std::string& warning : sluice::config::IgnoredLokiFeatureWarnings(*config)) {
    spdlog::warn("{}", warning);
  }

  // Signals are taken synchronously by sigwait on the main thread: no work in a signal handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);  // internal: exit requested over HTTP
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  sluice::App app(std::move(config).value());
  app.SetExitRequester([] { kill(getpid(), SIGUSR1); });
  st = app.Start();
  if (!st.ok()) {
    spdlog::critical("msg=\"start failed\" err=\"{}\"", st.message());
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("msg=\"received signal\" signal={}", sig);
  app.Shutdown();
  return 0;
}
