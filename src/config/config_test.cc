#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "config/overrides.h"

namespace sluice::config {
namespace {

TEST(ConfigTest, ParsesLokiNamedSections) {
  auto c = ParseConfigYaml(R"(
auth_enabled: true
server:
  http_listen_port: 3200
common:
  path_prefix: /tmp/x
limits_config:
  ingestion_rate_mb: 8
  max_line_size: 1MB
  reject_old_samples_max_age: 1w
ingester:
  chunk_encoding: snappy
  wal:
    fsync: interval
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->auth_enabled);
  EXPECT_EQ(c->server.http_listen_port, 3200);
  EXPECT_EQ(c->limits_config.ingestion_rate_mb, 8);
  EXPECT_EQ(c->limits_config.max_line_size, 1u << 20);
  EXPECT_EQ(c->limits_config.reject_old_samples_max_age, 7LL * 24 * 3600 * 1'000'000'000);
  EXPECT_EQ(c->ingester.chunk_encoding, "snappy");
  EXPECT_EQ(c->ingester.wal.fsync, "interval");
  ASSERT_TRUE(c->Finalize().ok());
  EXPECT_EQ(c->ingester.wal.dir, "/tmp/x/wal");
}

TEST(ConfigTest, UnknownKeysAreErrors) {
  auto c = ParseConfigYaml("server:\n  http_listen_prot: 1\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "unknown configuration key \"http_listen_prot\" in section server; did you mean "
            "\"server.http_listen_port\"?");
  auto top = ParseConfigYaml("bogus: 1\n");
  EXPECT_EQ(top.status().message(), "unknown configuration key \"bogus\" in the top level");
  EXPECT_FALSE(ParseConfigYaml("limits_config:\n  max_line_size: huge\n").ok());
  EXPECT_FALSE(ParseConfigYaml("server: [1, 2]\n").ok());
  EXPECT_FALSE(ParseConfigYaml("server:\n  http_listen_port: abc\n").ok());
}

TEST(ConfigTest, FlagsOverrideFile) {
  char path[] = "/tmp/sluice-config-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "server:\n  http_listen_port: 3200\n";
  auto c = LoadConfig({std::string("-config.file=") + path, "-server.http-listen-port=3300",
                       "-limits_config.ingestion_rate_mb", "12", "-log.level=debug"});
  std::remove(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.http_listen_port, 3300);
  EXPECT_EQ(c->limits_config.ingestion_rate_mb, 12);
  EXPECT_EQ(c->server.log_level, "debug");
  EXPECT_EQ(LoadConfig({"-no.such.flag=1"}).status().message(), "unknown flag -no.such.flag");
  EXPECT_FALSE(LoadConfig({"-ingester.wal.fsync=sometimes"}).ok());
}

TEST(ConfigTest, FlushRecompactionKnobsAreChecked) {
  auto c =
      LoadConfig({"-ingester.chunk_flush_compression_level=9", "-ingester.chunk_flush_blooms=false",
                  "-ingester.chunk_flush_block_size=512KB"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ingester.chunk_flush_compression_level, 9);
  EXPECT_FALSE(c->ingester.chunk_flush_blooms);
  EXPECT_EQ(c->ingester.chunk_flush_block_size, 512u << 10);
  EXPECT_EQ(LoadConfig({"-ingester.chunk_flush_compression_level=23"}).status().message(),
            "ingester.chunk_flush_compression_level: 23 is not between 0 and 19");
  EXPECT_EQ(LoadConfig({"-ingester.chunk_flush_block_size=1KB"}).status().message(),
            "ingester.chunk_flush_block_size must be at least 4KB");
}

TEST(ConfigTest, TracingAndTestOnlyFaultKeys) {
  auto c = LoadConfig({"-tracing.enabled=true", "-tracing.otlp-endpoint=http://c:4318/v1/traces",
                       "-tracing.sampling-ratio=0.5", "-testing.fault.ingester-push-delay=2s",
                       "-testing.fault.store-error-ratio=0.25"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->tracing.enabled);
  EXPECT_EQ(c->tracing.otlp_endpoint, "http://c:4318/v1/traces");
  EXPECT_EQ(c->tracing.sampling_ratio, 0.5);
  EXPECT_EQ(c->testing.fault.ingester_push_delay, 2'000'000'000);
  EXPECT_EQ(c->testing.fault.store_error_ratio, 0.25);
  EXPECT_EQ(c->testing.fault.store_delay, 0);
  // Loki's `tracing: {enabled: true}` is sluice's key now, not an ignored one.
  auto loki = ParseConfigYaml("tracing:\n  enabled: true\n");
  ASSERT_TRUE(loki.ok()) << loki.status().ToString();
  EXPECT_TRUE(loki->tracing.enabled);
  EXPECT_TRUE(loki->ignored_loki_keys.empty());
  EXPECT_EQ(LoadConfig({"-tracing.sampling-ratio=1.5"}).status().message(),
            "tracing.sampling_ratio: 1.5 is not between 0 and 1");
  EXPECT_FALSE(LoadConfig({"-testing.fault.store-error-ratio=-1"}).ok());
}

TEST(ConfigTest, DumpRoundTrips) {
  auto c = LoadConfig({"-limits_config.max_line_size=1KB"});
  ASSERT_TRUE(c.ok());
  std::string yaml = DumpConfigYaml(*c);
  EXPECT_NE(yaml.find("max_line_size: 1KB"), std::string::npos) << yaml;
  auto again = ParseConfigYaml(yaml);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->limits_config.max_line_size, 1024u);
}

TEST(ConfigTest, GrpcServerAndIngesterClientKeys) {
  Config defaults;
  EXPECT_EQ(defaults.server.grpc_listen_port, 9095);  // Loki's defaults
  EXPECT_EQ(defaults.server.grpc_listen_address, "");
  EXPECT_EQ(defaults.ingester_client.remote_timeout, 5LL * 1'000'000'000);
  EXPECT_EQ(defaults.ingester_client.grpc_client_config.max_send_msg_size, 100u << 20);
  auto c = ParseConfigYaml(R"(
server:
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: 9196
  grpc_server_max_recv_msg_size: 8MB
ingester_client:
  remote_timeout: 2s
  pool_config:
    health_check_ingesters: false
  grpc_client_config:
    max_send_msg_size: 16MB
  max_inflight_push_requests: 8
  circuit_breaker:
    failure_threshold: 3
    cooldown: 30s
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.grpc_listen_address, "127.0.0.1");
  EXPECT_EQ(c->server.grpc_listen_port, 9196);
  EXPECT_EQ(c->server.grpc_server_max_recv_msg_size, 8u << 20);
  EXPECT_EQ(c->ingester_client.remote_timeout, 2LL * 1'000'000'000);
  EXPECT_FALSE(c->ingester_client.pool_config.health_check_ingesters);
  EXPECT_EQ(c->ingester_client.grpc_client_config.max_send_msg_size, 16u << 20);
  EXPECT_EQ(c->ingester_client.max_inflight_push_requests, 8);
  EXPECT_EQ(c->ingester_client.circuit_breaker.failure_threshold, 3);
  EXPECT_EQ(c->ingester_client.circuit_breaker.cooldown, 30LL * 1'000'000'000);
  auto flags = LoadConfig({"-server.grpc-listen-port=9097", "-ingester_client.remote_timeout=1s"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->server.grpc_listen_port, 9097);
  EXPECT_EQ(flags->ingester_client.remote_timeout, 1'000'000'000);
  EXPECT_EQ(LoadConfig({"-server.grpc-listen-port=70000"}).status().message(),
            "server.grpc_listen_port must be between 0 and 65535");
}

TEST(OverridesTest, ReloadsPerTenantLimits) {
  char path[] = "/tmp/sluice-overrides-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "overrides:\n  tenant-a:\n    ingestion_rate_mb: 20\n";
  Limits defaults;
  Overrides o(defaults, path, 1'000'000'000);
  ASSERT_TRUE(o.Reload().ok());
  EXPECT_EQ(o.ForTenant("tenant-a")->ingestion_rate_mb, 20);
  EXPECT_EQ(o.ForTenant("tenant-a")->max_line_size, defaults.max_line_size);
  EXPECT_EQ(o.ForTenant("tenant-b")->ingestion_rate_mb, 4);
  std::ofstream(path) << "overrides:\n  tenant-a:\n    nonsense: 1\n";
  EXPECT_FALSE(o.Reload().ok());
  EXPECT_EQ(o.ForTenant("tenant-a")->ingestion_rate_mb, 20);  // previous kept
  std::remove(path);
}

TEST(ConfigTest, SyslogListeners) {
  auto c = ParseConfigYaml(R"(
syslog:
  listeners:
    - protocol: udp
      listen_address: 127.0.0.1:1514
      tenant: net
      labels: {job: syslog}
      label_fields: [hostname]
      use_incoming_timestamp: true
      idle_timeout: 30s
      max_message_length: 16KB
    - listen_address: :1601
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->syslog.listeners.size(), 2u);
  const auto& udp = c->syslog.listeners[0];
  EXPECT_EQ(udp.protocol, "udp");
  EXPECT_EQ(udp.tenant, "net");
  EXPECT_EQ(udp.labels.at("job"), "syslog");
  EXPECT_EQ(udp.label_fields, std::vector<std::string>{"hostname"});
  EXPECT_TRUE(udp.use_incoming_timestamp);
  EXPECT_EQ(udp.idle_timeout, 30LL * 1'000'000'000);
  EXPECT_EQ(udp.max_message_length, 16384u);
  const auto& tcp = c->syslog.listeners[1];  // defaults
  EXPECT_EQ(tcp.protocol, "tcp");
  EXPECT_EQ(tcp.tenant, "fake");
  EXPECT_EQ(tcp.label_fields, (std::vector<std::string>{"hostname", "app_name"}));
  EXPECT_EQ(tcp.max_connections, 256);
  auto again = ParseConfigYaml(DumpConfigYaml(*c));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->syslog.listeners[0].labels.at("job"), "syslog");

  auto typo = ParseConfigYaml("syslog:\n  listeners:\n    - listen_adress: :1514\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("listen_adress"), std::string::npos);
}

}  // namespace
}  // namespace sluice::config
