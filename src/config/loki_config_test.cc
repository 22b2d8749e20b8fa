// Loki configurations in sluice: keys sluice has are set, Loki's other keys are ignored and
// reported, typos stop the load with the key they probably meant.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "config/config.h"
#include "config/loki_keys.h"

namespace sluice::config {
namespace {

TEST(LokiConfigTest, CatalogHasBothVersionsKeys) {
  const KeyCatalog& k = LokiKeys();
  EXPECT_EQ(k.Kind("server.grpc_listen_port"), 'l');
  EXPECT_EQ(k.Kind("schema_config.configs"), 'L');
  EXPECT_EQ(k.Kind("schema_config.configs[].index.period"), 'l');
  // A block referenced by another, resolved into full paths.
  EXPECT_EQ(k.Kind("ingester.lifecycler.ring.kvstore.store"), 'l');
  EXPECT_EQ(k.Kind("storage_config.tsdb_shipper"), 's');
  EXPECT_EQ(k.Kind("storage_config.boltdb_shipper.active_index_directory"), 'l');  // 2.9
  EXPECT_EQ(k.Kind("limits_config.discover_service_name"), 'l');                   // 3.x
  EXPECT_EQ(k.Kind("server.no_such_key"), '\0');
  ASSERT_NE(k.ByFlag("distributor.ingestion-rate-limit-mb"), nullptr);
  EXPECT_STREQ(k.ByFlag("distributor.ingestion-rate-limit-mb")->path,
               "limits_config.ingestion_rate_mb");
}

TEST(LokiConfigTest, MapsSharedKeysAndIgnoresTheRest) {
  auto c = ParseConfigYaml(R"(
auth_enabled: false
server:
  http_listen_port: 3200
  grpc_listen_port: 9096
  http_server_write_timeout: 1m
common:
  instance_addr: 127.0.0.1
  path_prefix: /tmp/loki
  ring:
    kvstore:
      store: inmemory
schema_config:
  configs:
    - from: 2020-10-24
      store: tsdb
      index:
        prefix: index_
        period: 24h
storage_config:
  filesystem:
    directory: /tmp/loki/chunks-here
query_range:
  split_queries_by_interval: 1h
limits_config:
  ingestion_rate_mb: 8
  retention_period: 744h
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.http_listen_port, 3200);
  EXPECT_EQ(c->common.path_prefix, "/tmp/loki");
  EXPECT_EQ(c->limits_config.ingestion_rate_mb, 8);
  EXPECT_EQ(c->limits_config.retention_period, 744LL * 3600 * 1'000'000'000);
  // Renamed: Loki's path for the chunk directory and the 2.9 home of the split interval.
  EXPECT_EQ(c->storage.chunks_directory, "/tmp/loki/chunks-here");
  EXPECT_EQ(c->limits_config.split_queries_by_interval, 3600LL * 1'000'000'000);
  // Sections sluice has are checked as their walk ends, the top level last.
  // The ring and gRPC keys are sluice's too (the cluster targets use them).
  EXPECT_EQ(c->server.grpc_listen_port, 9096);
  EXPECT_EQ(c->ring.instance_addr, "127.0.0.1");
  EXPECT_EQ(c->ring.common_kvstore.store, "inmemory");
  std::vector<std::string> want = {
      "server.http_server_write_timeout",      "schema_config.configs[0].from",
      "schema_config.configs[0].store",        "schema_config.configs[0].index.prefix",
      "schema_config.configs[0].index.period",
  };
  EXPECT_EQ(c->ignored_loki_keys, want);
}

TEST(LokiConfigTest, WarnsAboutUnsupportedObjectStoresAndTableManagerRetention) {
  auto c = ParseConfigYaml(R"(
common:
  storage:
    gcs:
      bucket_name: chunks
    filesystem:
      rules_directory: /tmp/rules
table_manager:
  retention_period: 744h
storage_config:
  azure:
    container_name: x
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->Finalize().ok());
  auto warnings = IgnoredLokiFeatureWarnings(*c);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0],
            "msg=\"only S3-compatible object storage is supported (common.storage.s3): chunks and "
            "index are stored on the local filesystem\" chunks_directory=\"./data/chunks\" "
            "keys=\"common.storage.gcs.bucket_name, storage_config.azure.container_name\"");
  EXPECT_EQ(warnings[1],
            "msg=\"the table manager's retention is not applied: configure the compactor's "
            "(compactor.retention_enabled, limits_config.retention_period)\" "
            "keys=\"table_manager.retention_period\"");
  auto local = ParseConfigYaml("common:\n  storage:\n    filesystem:\n      rules_directory: x\n");
  ASSERT_TRUE(local.ok());
  EXPECT_TRUE(IgnoredLokiFeatureWarnings(*local).empty());
}

TEST(LokiConfigTest, S3BlockUnderEitherNameAndItsUrlForm) {
  auto c = ParseConfigYaml(R"(
common:
  storage:
    s3:
      endpoint: 127.0.0.1:9000
      bucketnames: loki-chunks
      s3forcepathstyle: true
      insecure: true
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->Finalize().ok());
  EXPECT_TRUE(c->storage.uses_s3());
  EXPECT_EQ(c->storage.s3.endpoint, "127.0.0.1:9000");
  EXPECT_TRUE(IgnoredLokiFeatureWarnings(*c).empty());

  auto url =
      ParseConfigYaml("storage_config:\n  aws:\n    s3: http://key:secret@minio:9000/logs\n");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ASSERT_TRUE(url->Finalize().ok());
  EXPECT_EQ(url->storage.s3.bucketnames, "logs");
  EXPECT_EQ(url->storage.s3.endpoint, "minio:9000");
  EXPECT_EQ(url->storage.s3.access_key_id, "key");
  EXPECT_EQ(url->storage.s3.secret_access_key, "secret");
  EXPECT_TRUE(url->storage.s3.insecure);
  EXPECT_TRUE(url->storage.s3.s3forcepathstyle);

  auto aws = ParseConfigYaml("storage_config:\n  aws:\n    s3: s3://eu-west-1/logs\n");
  ASSERT_TRUE(aws.ok());
  ASSERT_TRUE(aws->Finalize().ok());
  EXPECT_EQ(aws->storage.s3.region, "eu-west-1");
  EXPECT_EQ(aws->storage.s3.bucketnames, "logs");
  EXPECT_FALSE(aws->storage.s3.s3forcepathstyle);

  auto two = ParseConfigYaml("common:\n  storage:\n    s3:\n      bucketnames: a,b\n");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->Finalize().message(),
            "storage_config.aws.bucketnames: \"a,b\" names several buckets; sluice stores in one");
}

TEST(LokiConfigTest, TyposStopTheLoadWithASuggestion) {
  struct Case {
    const char* yaml;
    const char* message;
  };
  const Case cases[] = {
      // One of sluice's keys, transposed letters.
      {"server:\n  http_listen_prot: 1\n",
       "unknown configuration key \"http_listen_prot\" in section server; did you mean "
       "\"server.http_listen_port\"?"},
      // A Loki-only key, misspelt.
      {"server:\n  grpc_listen_prt: 1\n",
       "unknown configuration key \"grpc_listen_prt\" in section server; did you mean "
       "\"server.grpc_listen_port\"?"},
      // Inside a section sluice does not have, and inside a list element.
      {"memberlist:\n  join_member: [a]\n",
       "unknown configuration key \"join_member\" in section memberlist; did you mean "
       "\"memberlist.join_members\"?"},
      {"schema_config:\n  configs:\n    - from: 2024-01-01\n      shema: v13\n",
       "unknown configuration key \"shema\" in section schema_config.configs[0]; did you mean "
       "\"schema_config.configs[0].schema\"?"},
      // The right name in the wrong section.
      {"limits_config:\n  http_listen_port: 1\n",
       "unknown configuration key \"http_listen_port\" in section limits_config; did you mean "
       "\"server.http_listen_port\"?"},
      // Nothing close.
      {"bogus: 1\n", "unknown configuration key \"bogus\" in the top level"},
  };
  for (const Case& c : cases) {
    auto r = ParseConfigYaml(c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.status().message(), c.message);
  }
}

TEST(LokiConfigTest, LokiFlags) {
  auto c =
      LoadConfig({"-distributor.ingestion-rate-limit-mb=9", "-ingester.wal-enabled=false",
                  "-local.chunk-directory=/tmp/c", "-server.http-write-timeout=1m", "-target=all"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->limits_config.ingestion_rate_mb, 9);
  EXPECT_FALSE(c->ingester.wal.enabled);
  EXPECT_EQ(c->storage.chunks_directory, "/tmp/c");
  EXPECT_EQ(
      c->ignored_loki_keys,
      std::vector<std::string>{"-server.http-write-timeout (server.http_server_write_timeout)"});
  EXPECT_EQ(LoadConfig({"-server.http-listen-prot=1"}).status().message(),
            "unknown flag -server.http-listen-prot (did you mean -server.http-listen-port?)");
  EXPECT_EQ(LoadConfig({"-distributor.ingestion-rate-limit-mbb=1"}).status().message(),
            "unknown flag -distributor.ingestion-rate-limit-mbb (did you mean "
            "-distributor.ingestion-rate-limit-mb?)");
}

TEST(LokiConfigTest, KafkaKeysAndFlags) {
  auto c = LoadConfig({"-kafka.address=127.0.0.1:9092", "-kafka.topic=logs",
                       "-kafka.write-timeout=3s", "-distributor.kafka-writes-enabled=true",
                       "-ingester.kafka-ingestion-enabled=true", "-kafka.consumer-group=g"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kafka_config.address, "127.0.0.1:9092");
  EXPECT_EQ(c->kafka_config.topic, "logs");
  EXPECT_EQ(c->kafka_config.write_timeout, 3 * 1'000'000'000LL);
  EXPECT_EQ(c->kafka_config.consumer_group, "g");
  EXPECT_TRUE(c->distributor.kafka_writes_enabled);
  EXPECT_TRUE(c->ingester.kafka_ingestion.enabled);

  auto y = ParseConfigYaml(R"(
distributor: {kafka_writes_enabled: true}
ingester: {kafka_ingestion: {enabled: true, partitions: "0,2"}}
kafka_config:
  address: broker:9092
  topic: loki
  producer_max_record_size_bytes: 1MB
  producer_max_buffered_bytes: 1073741824
  max_consumer_lag_at_startup: 30s
  librdkafka: {security.protocol: ssl}
)");
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->kafka_config.producer_max_record_size_bytes, 1u << 20);
  EXPECT_EQ(y->kafka_config.producer_max_buffered_bytes, 1u << 30);
  EXPECT_EQ(y->kafka_config.max_consumer_lag_at_startup, 30 * 1'000'000'000LL);
  EXPECT_EQ(y->kafka_config.librdkafka.at("security.protocol"), "ssl");
  EXPECT_EQ(y->ingester.kafka_ingestion.partitions, "0,2");

  EXPECT_EQ(LoadConfig({"-distributor.kafka-writes-enabled=true", "-target=distributor"})
                .status()
                .message(),
            "kafka_config.topic must be set when distributor.kafka_writes_enabled or "
            "ingester.kafka_ingestion.enabled");
  EXPECT_NE(LoadConfig({"-distributor.kafka-writes-enabled=true", "-kafka.topic=t"})
                .status()
                .message()
                .find("go together"),
            std::string::npos);
}

TEST(LokiConfigTest, ExpandEnv) {
  std::map<std::string, std::string> env = {{"PORT", "3300"}, {"EMPTY", ""}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_EQ(ExpandEnv("port: ${PORT}", getenv), "port: 3300");
  EXPECT_EQ(ExpandEnv("a: ${UNSET:-x} b: ${EMPTY:-y} c: ${UNSET}|", getenv), "a: x b: y c: |");
  EXPECT_EQ(ExpandEnv("no ${ end", getenv), "no ${ end");
}

TEST(LokiConfigTest, ExpandEnvFlagReadsTheFileExpanded) {
  std::string path = ::testing::TempDir() + "sluice-expand-env-test.yaml";
  std::ofstream(path) << "server:\n  http_listen_port: ${SLUICE_TEST_UNSET_PORT:-3456}\n";
  auto expanded = LoadConfig({std::string("-config.file=") + path, "-config.expand-env=true"});
  auto literal = LoadConfig({std::string("-config.file=") + path});
  std::remove(path.c_str());
  ASSERT_TRUE(expanded.ok()) << expanded.status().ToString();
  EXPECT_EQ(expanded->server.http_listen_port, 3456);
  ASSERT_FALSE(literal.ok());  // without the flag the text is taken as it is, as in Loki
  EXPECT_NE(literal.status().message().find("cannot parse \"${SLUICE_TEST_UNSET_PORT:-3456}\""),
            std::string::npos)
      << literal.status().message();
}

TEST(LokiConfigTest, YamlAnchorsAndAliases) {
  auto c = ParseConfigYaml(R"(
common:
  path_prefix: &dir /tmp/anchored
ingester:
  wal:
    dir: *dir
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ingester.wal.dir, "/tmp/anchored");
}

}  // namespace
}  // namespace sluice::config
