#include "agent/config.h"

#include <gtest/gtest.h>

namespace sluice::agent {
namespace {

constexpr const char* kFull = R"(
server:
  http_listen_port: 0
client:
  url: http://127.0.0.1:3100/loki/api/v1/push
  tenant_id: t1
  encoding: json
  timeout: 2s
  max_inflight: 2
  batch_size: 64KB
  batch_wait: 200ms
  backoff_config: {min_period: 50ms, max_period: 1s, max_retries: 3, max_retry_after: 10s}
  breaker: {failure_threshold: 2, open_duration: 500ms}
  external_labels: {host: h1}
positions: {filename: /tmp/p, sync_period: 100ms, fsync: false}
limits: {memory_limit: 4MB, max_line_size: 1KB, max_line_size_mode: truncate}
reader: {poll_interval: 50ms, scan_period: 200ms}
shedding:
  threshold: 0.5
  rules:
    - labels: {level: debug}
    - line_contains: healthcheck
scrape_configs:
  - job_name: app
    files: [/var/log/*.log]
    labels: {env: prod}
    detect_level: true
)";

TEST(AgentConfig, ParsesEveryKey) {
  auto c = ParseAgentConfigYaml(kFull);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->Finalize().ok());
  EXPECT_EQ(c->client.encoding, "json");
  EXPECT_EQ(c->client.timeout, 2 * kSecond);
  EXPECT_EQ(c->client.batch_size, 64u << 10);
  EXPECT_EQ(c->client.backoff.min_period, 50 * kMilli);
  EXPECT_EQ(c->client.backoff.max_retries, 3);
  EXPECT_EQ(c->client.breaker.failure_threshold, 2);
  EXPECT_EQ(c->client.external_labels.at("host"), "h1");
  EXPECT_FALSE(c->positions.fsync);
  EXPECT_EQ(c->limits.memory_limit, 4u << 20);
  EXPECT_EQ(c->limits.max_line_size_mode, "truncate");
  ASSERT_EQ(c->shedding.rules.size(), 2u);
  EXPECT_EQ(c->shedding.rules[0].labels.at("level"), "debug");
  EXPECT_EQ(c->shedding.rules[1].line_contains, "healthcheck");
  ASSERT_EQ(c->scrape_configs.size(), 1u);
  EXPECT_TRUE(c->scrape_configs[0].detect_level);
  EXPECT_EQ(c->scrape_configs[0].files[0], "/var/log/*.log");
}

TEST(AgentConfig, UnknownKeysAreNamed) {
  auto c = ParseAgentConfigYaml("client:\n  urll: x\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("\"urll\" in section client"), std::string::npos)
      << c.status().message();
  auto d = ParseAgentConfigYaml("scrape_configs:\n  - files: [a]\n    lables: {}\n");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("lables"), std::string::npos);
  auto e = ParseAgentConfigYaml("bogus: 1\n");
  ASSERT_FALSE(e.ok());
}

TEST(AgentConfig, RejectsBadValues) {
  EXPECT_FALSE(ParseAgentConfigYaml("client: {timeout: forever}").ok());
  auto base = [](const std::string& extra) {
    auto c = ParseAgentConfigYaml("scrape_configs: [{files: [a]}]\n" + extra);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c->Finalize() : c.status();
  };
  EXPECT_TRUE(base("").ok());
  EXPECT_FALSE(base("client: {encoding: xml}").ok());
  EXPECT_FALSE(base("client: {url: ftp://x}").ok());
  EXPECT_FALSE(base("limits: {memory_limit: 1MB}").ok());  // cannot hold max_inflight batches
  EXPECT_FALSE(base("limits: {max_line_size_mode: wrap}").ok());
  EXPECT_FALSE(base("shedding: {threshold: 1.5}").ok());
  EXPECT_FALSE(base("client: {backoff_config: {min_period: 2s, max_period: 1s}}").ok());
  auto none = ParseAgentConfigYaml("client: {tenant_id: x}");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->Finalize().ok());  // no sources
}

TEST(AgentConfig, JournalSourceAsPromtailWritesIt) {
  auto c = ParseAgentConfigYaml(R"(
client: {compression: gzip}
scrape_configs:
  - job_name: journal
    journal:
      json: true
      max_age: 12h
      path: /var/log/journal
      matches: _SYSTEMD_UNIT=a.service PRIORITY=3
      labels: {job: systemd-journal}
    relabel_configs:
      - source_labels: ['__journal__systemd_unit']
        target_label: 'unit'
  - job_name: bare
    journal:
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->Finalize().ok());
  EXPECT_EQ(c->client.compression, "gzip");
  const auto& s = c->scrape_configs[0];
  ASSERT_TRUE(s.journal.has_value());
  EXPECT_TRUE(s.journal->json);
  EXPECT_EQ(s.journal->max_age, 12 * 3600 * kSecond);
  EXPECT_EQ(s.journal->path, "/var/log/journal");
  EXPECT_EQ(s.labels.at("job"), "systemd-journal");
  ASSERT_EQ(s.relabel_configs.size(), 1u);
  EXPECT_EQ(s.relabel_configs[0].target_label, "unit");
  EXPECT_EQ(s.relabel_configs[0].regex, "(.*)");
  ASSERT_TRUE(c->scrape_configs[1].journal.has_value());  // `journal:` alone: every default
  EXPECT_EQ(c->scrape_configs[1].journal->max_age, 7 * 3600 * kSecond);
}

TEST(AgentConfig, MultilineStage) {
  auto c = ParseAgentConfigYaml(R"(
scrape_configs:
  - files: [a]
    pipeline_stages:
      - multiline: {firstline: '^\d{4}-', max_wait_time: 500ms, max_lines: 50}
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->Finalize().ok());
  ASSERT_TRUE(c->scrape_configs[0].multiline.has_value());
  EXPECT_EQ(c->scrape_configs[0].multiline->firstline, "^\\d{4}-");
  EXPECT_EQ(c->scrape_configs[0].multiline->max_wait_time, 500 * kMilli);
  EXPECT_EQ(c->scrape_configs[0].multiline->max_lines, 50);
}

TEST(AgentConfig, RejectsBadJournalMultilineAndCompressionValues) {
  auto check = [](const std::string& yaml, const std::string& want) {
    auto c = ParseAgentConfigYaml(yaml);
    Status st = c.ok() ? c->Finalize() : c.status();
    EXPECT_FALSE(st.ok()) << yaml;
    EXPECT_NE(st.message().find(want), std::string::npos) << st.message();
  };
  check("client: {compression: zstd}\nscrape_configs: [{files: [a]}]", "client.compression");
  check("scrape_configs: [{files: [a], journal: {}}]", "exactly one of files, stdin or journal");
  check("scrape_configs: [{journal: {max_age: -1s}}]", "max_age");
  check("scrape_configs: [{journal: {matches: 'unit=x'}}]", "journal.matches");
  check("scrape_configs: [{journal: {}, detect_level: true}]", "__journal_priority_keyword");
  check("scrape_configs: [{files: [a], relabel_configs: [{source_labels: [x], target_label: y}]}]",
        "journal sources only");
  check(
      "scrape_configs: [{journal: {}, relabel_configs: [{source_labels: [x], target_label: y, "
      "action: hashmod}]}]",
      "hashmod");
  check("scrape_configs: [{journal: {}, relabel_configs: [{source_labels: [x]}]}]",
        "needs target_label");
  check(
      "scrape_configs: [{journal: {}, relabel_configs: [{source_labels: [x], target_label: y, "
      "regex: '('}]}]",
      "relabel_configs[0].regex");
  check("scrape_configs: [{job_name: j, journal: {}}, {job_name: j, journal: {}}]",
        "another journal source");
  check("scrape_configs: [{files: [a], pipeline_stages: [{multiline: {}}]}]", "firstline");
  check("scrape_configs: [{files: [a], pipeline_stages: [{multiline: {firstline: '('}}]}]",
        "firstline");
  check(
      "scrape_configs: [{files: [a], pipeline_stages: [{multiline: {firstline: x, max_lines: "
      "0}}]}]",
      "max_lines");
  check(
      "scrape_configs: [{files: [a], pipeline_stages: [{multiline: {firstline: x, max_wait_time: "
      "0s}}]}]",
      "max_wait_time");
  check("scrape_configs: [{files: [a], pipeline_stages: [{regex: {expression: x}}]}]", "\"regex\"");
  check("scrape_configs: [{journal: {}, pipeline_stages: [{multiline: {firstline: x}}]}]",
        "multiline is for");
}

}  // namespace
}  // namespace sluice::agent
