#include <gtest/gtest.h>

#include "config/config.h"

namespace sluice::config {
namespace {

TEST(RingConfigTest, ParsesLokisRingKeysAndFillsFromCommon) {
  auto c = ParseConfigYaml(R"(
common:
  replication_factor: 3
  instance_addr: 10.0.0.7
  ring:
    kvstore:
      store: etcd
      prefix: loki/
      etcd:
        endpoints: [etcd-1:2379, etcd-2:2379]
        dial_timeout: 3s
        username: loki
        password: secret
ingester:
  lifecycler:
    id: ingester-7
    num_tokens: 64
    heartbeat_period: 2s
    join_after: 1s
    min_ready_duration: 5s
    final_sleep: 30s
    availability_zone: zone-b
    tokens_file_path: /data/tokens
    ring:
      heartbeat_timeout: 20s
      replication_factor: 1
      zone_awareness_enabled: true
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->Finalize().ok());
  const RingConfig& r = c->ring;
  EXPECT_EQ(r.instance_addr, "10.0.0.7");
  const auto& l = r.lifecycler;
  EXPECT_EQ(l.id, "ingester-7");
  EXPECT_EQ(l.num_tokens, 64);
  EXPECT_EQ(l.heartbeat_period, 2'000'000'000);
  EXPECT_EQ(l.join_after, 1'000'000'000);
  EXPECT_EQ(l.min_ready_duration, 5'000'000'000);
  EXPECT_EQ(l.final_sleep, 30'000'000'000);
  EXPECT_EQ(l.availability_zone, "zone-b");
  EXPECT_EQ(l.tokens_file_path, "/data/tokens");
  EXPECT_EQ(l.heartbeat_timeout, 20'000'000'000);
  EXPECT_TRUE(l.zone_awareness_enabled);
  // common.replication_factor wins over the ring's own, as in Loki.
  EXPECT_EQ(l.replication_factor, 3);
  // Rings without a kvstore of their own use common.ring.kvstore.
  for (const KvStoreConfig* k : {&l.kvstore, &r.distributor_kvstore}) {
    EXPECT_EQ(k->store, "etcd");
    EXPECT_EQ(k->prefix, "loki/");
    EXPECT_EQ(k->etcd.endpoints, (std::vector<std::string>{"etcd-1:2379", "etcd-2:2379"}));
    EXPECT_EQ(k->etcd.dial_timeout, 3'000'000'000);
    EXPECT_EQ(k->etcd.username, "loki");
    EXPECT_EQ(k->etcd.password, "secret");
  }
}

TEST(RingConfigTest, DefaultsAreLokisWithAnInMemoryStore) {
  auto c = LoadConfig({});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto& l = c->ring.lifecycler;
  EXPECT_EQ(l.kvstore.store, "inmemory");
  EXPECT_EQ(l.kvstore.prefix, "collectors/");
  EXPECT_EQ(l.num_tokens, 128);
  EXPECT_EQ(l.heartbeat_period, 5'000'000'000);
  EXPECT_EQ(l.heartbeat_timeout, 60'000'000'000);
  EXPECT_EQ(l.min_ready_duration, 15'000'000'000);
  EXPECT_EQ(l.replication_factor, 3);
  EXPECT_FALSE(l.id.empty());  // the host name
}

// Loki's example and Helm configs keep the ring in memberlist or consul; they start the single
// binary, whose ring is in memory, and the start-up warning names them.
TEST(RingConfigTest, LokisOtherStoresBecomeInMemoryAndAreNamed) {
  auto c = ParseConfigYaml(
      "common:\n  ring:\n    kvstore:\n      store: memberlist\n"
      "distributor:\n  ring:\n    kvstore:\n      store: consul\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  c->ignored_loki_keys.clear();
  ASSERT_TRUE(c->Finalize().ok());
  EXPECT_EQ(c->ring.common_kvstore.store, "inmemory");
  EXPECT_EQ(c->ring.lifecycler.kvstore.store, "inmemory");
  EXPECT_EQ(c->ring.distributor_kvstore.store, "inmemory");
  EXPECT_EQ(
      c->ignored_loki_keys,
      (std::vector<std::string>{
          "common.ring.kvstore.store (memberlist: sluice keeps its ring in memory or etcd)",
          "distributor.ring.kvstore.store (consul: sluice keeps its ring in memory or etcd)"}));
}

TEST(RingConfigTest, FlagsSetRingKeys) {
  auto c = LoadConfig({"-ingester.lifecycler.num-tokens=32", "-distributor.ring.kvstore.store=etcd",
                       "-distributor.ring.kvstore.etcd.endpoints=127.0.0.1:2379,127.0.0.1:2380"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ring.lifecycler.num_tokens, 32);
  EXPECT_EQ(c->ring.lifecycler.kvstore.store, "inmemory");
  EXPECT_EQ(c->ring.distributor_kvstore.etcd.endpoints.size(), 2u);
}

TEST(RingConfigTest, BadValuesNameTheKey) {
  auto bad_store = LoadConfig({"-common.ring.kvstore.store=zookeeper"});
  ASSERT_FALSE(bad_store.ok());
  EXPECT_NE(bad_store.status().message().find("common.ring.kvstore.store: \"zookeeper\""),
            std::string::npos)
      << bad_store.status().message();
  auto no_endpoints = LoadConfig({"-ingester.lifecycler.ring.kvstore.store=etcd"});
  ASSERT_FALSE(no_endpoints.ok());
  EXPECT_NE(no_endpoints.status().message().find("ingester.lifecycler.ring.kvstore.etcd.endpoints"),
            std::string::npos)
      << no_endpoints.status().message();
  EXPECT_FALSE(LoadConfig({"-ingester.lifecycler.num_tokens=0"}).ok());
  EXPECT_FALSE(LoadConfig({"-common.replication_factor=-1"}).ok());
  auto unknown = ParseConfigYaml("ingester:\n  lifecycler:\n    nope: 1\n");
  EXPECT_FALSE(unknown.ok());
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(TargetsTest, ParsesModulesGroupsAndLists) {
  auto all = Targets::Parse("all");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->all && all->distributor && all->ingester && all->querier && all->query_frontend);
  auto write = Targets::Parse("write");
  ASSERT_TRUE(write.ok());
  EXPECT_TRUE(write->distributor && write->ingester);
  EXPECT_FALSE(write->all || write->querier || write->query_frontend);
  auto read = Targets::Parse("read");
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->query_frontend && read->querier && read->serves_queries());
  EXPECT_FALSE(read->distributor || read->ingester);
  auto front_door = Targets::Parse("distributor, query-frontend");
  ASSERT_TRUE(front_door.ok());
  EXPECT_TRUE(front_door->distributor && front_door->query_frontend);
  EXPECT_FALSE(front_door->querier || front_door->ingester);
  EXPECT_FALSE(Targets::Parse("distributor")->serves_queries());

  auto typo = Targets::Parse("ingestor");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unrecognised target \"ingestor\""), std::string::npos);
  EXPECT_FALSE(Targets::Parse("").ok());
  EXPECT_FALSE(Targets::Parse(" , ").ok());
}

TEST(RingConfigTest, CommonRingKeysAndClusterKnobs) {
  auto c = ParseConfigYaml(R"(
target: ingester
common:
  ring:
    instance_addr: 10.0.0.9
    instance_id: ing-9
    instance_availability_zone: zone-c
distributor:
  zone_awareness_enabled: true
querier:
  query_ingesters_within: 2h
frontend:
  max_outstanding_per_tenant: 100
frontend_worker:
  frontend_address: 127.0.0.1:9096
  parallelism: 4
ingester_client:
  push_retries: 1
  push_retry_backoff: 10ms
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->Finalize().ok());
  EXPECT_TRUE(c->targets.ingester);
  EXPECT_FALSE(c->targets.distributor);
  EXPECT_EQ(c->ring.instance_addr, "10.0.0.9");
  EXPECT_EQ(c->ring.lifecycler.id, "ing-9");
  EXPECT_EQ(c->ring.lifecycler.availability_zone, "zone-c");
  EXPECT_TRUE(c->ring.lifecycler.zone_awareness_enabled);
  EXPECT_EQ(c->querier.query_ingesters_within, 2LL * 3600 * 1'000'000'000);
  EXPECT_EQ(c->frontend.max_outstanding_per_tenant, 100);
  EXPECT_EQ(c->frontend_worker.frontend_address, "127.0.0.1:9096");
  EXPECT_EQ(c->frontend_worker.parallelism, 4);
  EXPECT_EQ(c->ingester_client.push_retries, 1);
  EXPECT_EQ(c->ingester_client.push_retry_backoff, 10'000'000);

  auto bad = ParseConfigYaml("target: ingestor\n");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->Finalize().ok());
}

}  // namespace
}  // namespace sluice::config
