#include "config/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <unistd.h>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <thread>

#include "common/duration.h"
#include "common/strings.h"
#include "config/loader.h"
#include "config/loki_keys.h"
#include "model/labels.h"

namespace sluice::config {

const std::vector<std::string>& DefaultOtlpIndexLabelAttributes() {
  static const std::vector<std::string> kList = {
      "service.name",
      "service.namespace",
      "service.instance.id",
      "deployment.environment",
      "deployment.environment.name",
      "cloud.region",
      "cloud.availability_zone",
      "k8s.cluster.name",
      "k8s.namespace.name",
      "k8s.pod.name",
      "k8s.container.name",
      "container.name",
      "k8s.replicaset.name",
      "k8s.deployment.name",
      "k8s.statefulset.name",
      "k8s.daemonset.name",
      "k8s.cronjob.name",
      "k8s.job.name",
  };
  return kList;
}

const std::vector<std::string>& DefaultDiscoverServiceName() {
  static const std::vector<std::string> kList = {
      "service",
      "app",
      "application",
      "app_name",
      "name",
      "app_kubernetes_io_name",
      "container",
      "container_name",
      "k8s_container_name",
      "component",
      "workload",
      "job",
      "k8s_job_name",
  };
  return kList;
}

const std::vector<std::string>& DefaultLogLevelFields() {
  static const std::vector<std::string> kList = {
      "level",    "LEVEL",         "Level",         "log.level",     "severity",
      "SEVERITY", "Severity",      "SeverityText",  "lvl",           "LVL",
      "Lvl",      "severity_text", "Severity_Text", "SEVERITY_TEXT",
  };
  return kList;
}

std::string_view DeletionModeName(DeletionMode mode) {
  switch (mode) {
    case DeletionMode::kDisabled:
      return "disabled";
    case DeletionMode::kFilterOnly:
      return "filter-only";
    case DeletionMode::kFilterAndDelete:
      break;
  }
  return "filter-and-delete";
}

// deletion_mode as a scalar field (found by the visitors through argument-dependent lookup).
// Loki's text for an unknown mode (deletionmode.ParseMode).
Status ParseScalar(std::string_view key, const std::string& text, DeletionMode& out) {
  for (DeletionMode m :
       {DeletionMode::kDisabled, DeletionMode::kFilterOnly, DeletionMode::kFilterAndDelete}) {
    if (text == DeletionModeName(m)) {
      out = m;
      return Status::OK();
    }
  }
  return Status::InvalidArgument(fmt::format(
      "{}: unknown deletion mode: must be one of disabled|filter-only|filter-and-delete", key));
}

std::string FormatScalar(DeletionMode mode) { return std::string(DeletionModeName(mode)); }

namespace {

// Loki's texts for a bad otlp_config rule (otlplabels.AttributesConfig.UnmarshalYAML).
constexpr std::string_view kUnsupportedActionMessage =
    "unsupported action, it must be one of: drop, index_label, structured_metadata";
constexpr std::string_view kAttributesAndRegexNotSetMessage = "attributes or regex must be set";
constexpr std::string_view kAttributesAndRegexBothSetMessage =
    "only one of attributes or regex must be set";

std::string_view OtlpActionName(OtlpAction a) {
  switch (a) {
    case OtlpAction::kIndexLabel:
      return "index_label";
    case OtlpAction::kDrop:
      return "drop";
    case OtlpAction::kStructuredMetadata:
      break;
  }
  return "structured_metadata";
}

// One attributes_config rule; `allow_index_label` is false for scope attributes (Loki's
// OTLPConfig.Validate). The action is read as text so the dump prints Loki's names.
template <typename V>
auto VisitOtlpRule(V& v, bool allow_index_label) {
  return [&v, allow_index_label](OtlpAttributesRule& r) -> Status {
    std::string action(OtlpActionName(r.action));
    v.Field("action", action);
    v.Field("attributes", r.attributes);
    v.Field("regex", r.regex);
    if (action.empty() || action == "structured_metadata") {
      r.action = OtlpAction::kStructuredMetadata;
    } else if (action == "index_label") {
      r.action = OtlpAction::kIndexLabel;
    } else if (action == "drop") {
      r.action = OtlpAction::kDrop;
    } else {
      return Status::InvalidArgument(std::string(kUnsupportedActionMessage));
    }
    if (r.attributes.empty() && r.regex.empty()) {
      return Status::InvalidArgument(std::string(kAttributesAndRegexNotSetMessage));
    }
    if (!r.attributes.empty() && !r.regex.empty()) {
      return Status::InvalidArgument(std::string(kAttributesAndRegexBothSetMessage));
    }
    if (!allow_index_label && r.action == OtlpAction::kIndexLabel) {
      return Status::InvalidArgument(
          "index_label action is only supported for resource_attributes");
    }
    if (!r.regex.empty() && r.matcher == nullptr) {
      // Prometheus' relabel.Regexp: anchored at both ends.
      auto re = std::make_shared<re2::RE2>("^(?:" + r.regex + ")$", re2::RE2::Quiet);
      if (!re->ok()) {
        return Status::InvalidArgument(
            fmt::format("invalid regex \"{}\": {}", r.regex, re->error()));
      }
      r.matcher = std::move(re);
    }
    return Status::OK();
  };
}

// A retention_stream selector: `{name op "value", ...}` with op one of = != =~ !~ (Loki parses it
// with its LogQL parser, which this layer cannot use; this is the selector subset of it).
Result<std::vector<model::LabelMatcher>> ParseRetentionSelector(std::string_view s) {
  size_t pos = 0;
  auto skip_space = [&] {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
      ++pos;
  };
  auto fail = [&](std::string_view what) {
    return Status::InvalidArgument(fmt::format("parse error at col {}: {}", pos + 1, what));
  };
  std::vector<model::LabelMatcher> matchers;
  skip_space();
  if (pos >= s.size() || s[pos] != '{') return fail("expected {");
  ++pos;
  skip_space();
  if (pos < s.size() && s[pos] == '}') {
    ++pos;
  } else {
    while (true) {
      skip_space();
      size_t start = pos;
      while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '_'))
        ++pos;
      std::string name(s.substr(start, pos - start));
      if (!model::IsValidLabelName(name)) return fail("expected a label name");
      skip_space();
      model::LabelMatcher::Type type;
      if (s.substr(pos, 2) == "=~") {
        type = model::LabelMatcher::Type::kRegexMatch;
        pos += 2;
      } else if (s.substr(pos, 2) == "!~") {
        type = model::LabelMatcher::Type::kRegexNoMatch;
        pos += 2;
      } else if (s.substr(pos, 2) == "!=") {
        type = model::LabelMatcher::Type::kNotEqual;
        pos += 2;
      } else if (s.substr(pos, 1) == "=") {
        type = model::LabelMatcher::Type::kEqual;
        pos += 1;
      } else {
        return fail("expected one of = != =~ !~");
      }
      skip_space();
      std::string value;
      if (pos >= s.size() || (s[pos] != '"' && s[pos] != '`') ||
          !model::UnquoteString(s, &pos, &value)) {
        return fail("expected a quoted string");
      }
      SLUICE_ASSIGN_OR_RETURN(model::LabelMatcher m,
                              model::LabelMatcher::Make(type, std::move(name), std::move(value)));
      matchers.push_back(std::move(m));
      skip_space();
      if (pos < s.size() && s[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < s.size() && s[pos] == '}') {
        ++pos;
        break;
      }
      return fail("expected , or }");
    }
  }
  skip_space();
  if (pos != s.size()) return fail("unexpected text after }");
  bool selective = false;
  for (const auto& m : matchers) selective = selective || !m.Matches("");
  if (!selective) {
    return Status::InvalidArgument(
        "queries require at least one regexp or equality matcher that does not have an "
        "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but "
        "app=~\".+\" will");
  }
  return matchers;
}

// One retention_stream rule, validated as Loki's Limits.Validate does (with its texts).
template <typename V>
auto VisitStreamRetention(V& v) {
  return [&v](StreamRetention& r) -> Status {
    v.Field("selector", r.selector);
    v.Field("priority", r.priority);
    v.Field("period", DurationField{&r.period});
    if (r.matchers.empty()) {
      auto matchers = ParseRetentionSelector(r.selector);
      if (!matchers.ok()) {
        return Status::InvalidArgument("invalid labels matchers: " + matchers.status().message());
      }
      r.matchers = std::move(matchers).value();
    }
    if (r.period < 24LL * 3600 * 1'000'000'000) {
      return Status::InvalidArgument(
          fmt::format("retention period must be >= 24h was {}", FormatDuration(r.period)));
    }
    return Status::OK();
  };
}

template <typename V>
void VisitOtlpConfig(OtlpConfig& c, V& v) {
  v.Section("resource_attributes", [&] {
    v.Field("ignore_defaults", c.resource_ignore_defaults);
    v.List("attributes_config", c.resource_attributes, VisitOtlpRule(v, true));
  });
  v.List("scope_attributes", c.scope_attributes, VisitOtlpRule(v, false));
  v.List("log_attributes", c.log_attributes, VisitOtlpRule(v, true));
  v.Field("severity_text_as_label", c.severity_text_as_label);
}

// One description of every key, walked by the three visitors of config/loader.h: YAML loading,
// YAML dumping and flag setting. Adding a key here makes it loadable, printable and settable from
// the command line.
template <typename V>
void VisitLimits(Limits& l, V& v) {
  v.Field("ingestion_rate_strategy", l.ingestion_rate_strategy);
  v.Field("ingestion_rate_mb", l.ingestion_rate_mb);
  v.Field("ingestion_burst_size_mb", l.ingestion_burst_size_mb);
  v.Field("max_label_name_length", l.max_label_name_length);
  v.Field("max_label_value_length", l.max_label_value_length);
  v.Field("max_label_names_per_series", l.max_label_names_per_series);
  v.Field("reject_old_samples", l.reject_old_samples);
  v.Field("reject_old_samples_max_age", DurationField{&l.reject_old_samples_max_age});
  v.Field("creation_grace_period", DurationField{&l.creation_grace_period});
  v.Field("max_line_size", BytesField{&l.max_line_size});
  v.Field("max_line_size_truncate", l.max_line_size_truncate);
  v.Field("increment_duplicate_timestamp", l.increment_duplicate_timestamp);
  v.Field("allow_structured_metadata", l.allow_structured_metadata);
  v.Field("max_structured_metadata_size", BytesField{&l.max_structured_metadata_size});
  v.Field("max_structured_metadata_entries_count", l.max_structured_metadata_entries_count);
  v.Field("discover_service_name", l.discover_service_name);
  v.Field("discover_log_levels", l.discover_log_levels);
  v.Field("log_level_fields", l.log_level_fields);
  v.Field("log_level_from_json_max_depth", l.log_level_from_json_max_depth);
  v.Section("otlp_config", [&] { VisitOtlpConfig(l.otlp_config, v); });
  v.Field("max_streams_per_user", l.max_streams_per_user);
  v.Field("max_global_streams_per_user", l.max_global_streams_per_user);
  v.Field("unordered_writes", l.unordered_writes);
  v.Field("per_stream_rate_limit", BytesField{&l.per_stream_rate_limit});
  v.Field("per_stream_rate_limit_burst", BytesField{&l.per_stream_rate_limit_burst});
  v.Field("max_entries_limit_per_query", l.max_entries_limit_per_query);
  v.Field("max_query_length", DurationField{&l.max_query_length});
  v.Field("max_query_series", l.max_query_series);
  v.Field("query_timeout", DurationField{&l.query_timeout});
  v.Field("max_query_parallelism", l.max_query_parallelism);
  v.Field("split_queries_by_interval", DurationField{&l.split_queries_by_interval});
  v.Field("max_cache_freshness_per_query", DurationField{&l.max_cache_freshness_per_query});
  v.Field("max_query_lookback", DurationField{&l.max_query_lookback});
  v.Field("max_concurrent_tail_requests", l.max_concurrent_tail_requests);
  v.Field("retention_period", DurationField{&l.retention_period});
  v.List("retention_stream", l.retention_stream, VisitStreamRetention(v));
  v.Field("deletion_mode", l.deletion_mode);
}

template <typename V>
void VisitKvStore(KvStoreConfig& k, V& v) {
  v.Section("kvstore", [&] {
    v.Field("store", k.store);
    v.Field("prefix", k.prefix);
    v.Section("etcd", [&] {
      v.Field("endpoints", k.etcd.endpoints);
      v.Field("dial_timeout", DurationField{&k.etcd.dial_timeout});
      v.Field("username", k.etcd.username);
      v.Field("password", k.etcd.password);
    });
  });
}

template <typename V>
void VisitCache(CacheConfig& c, V& v) {
  v.Section("embedded_cache", [&] {
    v.Field("enabled", c.embedded_cache.enabled);
    v.Field("max_size_mb", c.embedded_cache.max_size_mb);
    v.Field("ttl", DurationField{&c.embedded_cache.ttl});
  });
  v.Section("memcached", [&] {
    v.Field("expiration", DurationField{&c.memcached.expiration});
    v.Field("batch_size", c.memcached.batch_size);
    v.Field("parallelism", c.memcached.parallelism);
  });
  v.Section("memcached_client", [&] {
    v.Field("addresses", c.memcached_client.addresses);
    v.Field("host", c.memcached_client.host);
    v.Field("service", c.memcached_client.service);
    v.Field("timeout", DurationField{&c.memcached_client.timeout});
    v.Field("max_item_size", BytesField{&c.memcached_client.max_item_size});
  });
  v.Field("default_validity", DurationField{&c.default_validity});
}

// common.storage.s3 and storage_config.aws: one block under two names.
template <typename V>
void VisitS3(Config::Storage::S3& s3, V& v) {
  v.Field("s3", s3.s3);
  v.Field("endpoint", s3.endpoint);
  v.Field("region", s3.region);
  v.Field("bucketnames", s3.bucketnames);
  v.Field("access_key_id", s3.access_key_id);
  v.Field("secret_access_key", s3.secret_access_key);
  v.Field("session_token", s3.session_token);
  v.Field("s3forcepathstyle", s3.s3forcepathstyle);
  v.Field("insecure", s3.insecure);
  v.Section("http_config", [&] {
    v.Field("idle_conn_timeout", DurationField{&s3.http_config.idle_conn_timeout});
    v.Field("response_header_timeout", DurationField{&s3.http_config.response_header_timeout});
    v.Field("insecure_skip_verify", s3.http_config.insecure_skip_verify);
    v.Field("ca_file", s3.http_config.ca_file);
  });
  v.Section("backoff_config", [&] {
    v.Field("min_period", DurationField{&s3.backoff_config.min_period});
    v.Field("max_period", DurationField{&s3.backoff_config.max_period});
    v.Field("max_retries", s3.backoff_config.max_retries);
  });
}

template <typename V>
void VisitConfig(Config& c, V& v) {
  v.Field("target", c.target);
  v.Field("auth_enabled", c.auth_enabled);
  v.Section("server", [&] {
    v.Field("http_listen_address", c.server.http_listen_address);
    v.Field("http_listen_port", c.server.http_listen_port);
    v.Field("http_threads", c.server.http_threads);
    v.Field("log_level", c.server.log_level);
    v.Field("log_format", c.server.log_format);
    v.Field("http_server_read_timeout", DurationField{&c.server.http_server_read_timeout});
    v.Field("grpc_listen_address", c.server.grpc_listen_address);
    v.Field("grpc_listen_port", c.server.grpc_listen_port);
    v.Field("grpc_server_max_recv_msg_size", BytesField{&c.server.grpc_server_max_recv_msg_size});
    v.Field("grpc_server_max_send_msg_size", BytesField{&c.server.grpc_server_max_send_msg_size});
  });
  v.Section("common", [&] {
    v.Field("path_prefix", c.common.path_prefix);
    v.Section("storage", [&] {
      v.Section("filesystem", [&] { v.Field("chunks_directory", c.storage.chunks_directory); });
      v.Section("s3", [&] { VisitS3(c.storage.s3, v); });
    });
    v.Field("replication_factor", c.ring.common_replication_factor);
    v.Field("instance_addr", c.ring.instance_addr);
    v.Section("ring", [&] {
      VisitKvStore(c.ring.common_kvstore, v);
      v.Field("instance_addr", c.ring.common_ring_instance_addr);
      v.Field("instance_id", c.ring.common_instance_id);
      v.Field("instance_availability_zone", c.ring.common_availability_zone);
      v.Field("zone_awareness_enabled", c.ring.common_zone_awareness_enabled);
    });
  });
  v.Section("distributor", [&] {
    v.Field("max_recv_msg_size", BytesField{&c.distributor.max_recv_msg_size});
    v.Field("max_decompressed_size", BytesField{&c.distributor.max_decompressed_size});
    v.Field("kafka_writes_enabled", c.distributor.kafka_writes_enabled);
    v.Section("ring", [&] { VisitKvStore(c.ring.distributor_kvstore, v); });
    v.Field("zone_awareness_enabled", c.ring.distributor_zone_awareness_enabled);
  });
  v.Section("ingester", [&] {
    auto& i = c.ingester;
    v.Field("chunk_idle_period", DurationField{&i.chunk_idle_period});
    v.Field("chunk_idle_min_size", BytesField{&i.chunk_idle_min_size});
    v.Field("chunk_block_size", BytesField{&i.chunk_block_size});
    v.Field("chunk_target_size", BytesField{&i.chunk_target_size});
    v.Field("chunk_encoding", i.chunk_encoding);
    v.Field("chunk_flush_block_size", BytesField{&i.chunk_flush_block_size});
    v.Field("chunk_flush_compression_level", i.chunk_flush_compression_level);
    v.Field("chunk_flush_blooms", i.chunk_flush_blooms);
    v.Field("head_memory_budget", BytesField{&i.head_memory_budget});
    v.Field("chunk_memory_budget", BytesField{&i.chunk_memory_budget});
    v.Field("max_chunk_age", DurationField{&i.max_chunk_age});
    v.Field("chunk_retain_period", DurationField{&i.chunk_retain_period});
    v.Field("flush_check_period", DurationField{&i.flush_check_period});
    v.Field("concurrent_flushes", i.concurrent_flushes);
    v.Section("flush_op_backoff", [&] {
      v.Field("min_period", DurationField{&i.flush_op_backoff.min_period});
      v.Field("max_period", DurationField{&i.flush_op_backoff.max_period});
      v.Field("max_retries", i.flush_op_backoff.max_retries);
    });
    v.Field("concurrency", i.concurrency);
    v.Field("max_returned_stream_errors", i.max_returned_stream_errors);
    v.Section("kafka_ingestion", [&] {
      v.Field("enabled", i.kafka_ingestion.enabled);
      v.Field("partitions", i.kafka_ingestion.partitions);
    });
    v.Section("wal", [&] {
      v.Field("enabled", i.wal.enabled);
      v.Field("dir", i.wal.dir);
      v.Field("checkpoint_duration", DurationField{&i.wal.checkpoint_duration});
      v.Field("flush_on_shutdown", i.wal.flush_on_shutdown);
      v.Field("replay_memory_ceiling", BytesField{&i.wal.replay_memory_ceiling});
      v.Field("fsync", i.wal.fsync);
      v.Field("fsync_interval", DurationField{&i.wal.fsync_interval});
      v.Field("segment_size", BytesField{&i.wal.segment_size});
    });
    v.Section("lifecycler", [&] {
      auto& l = c.ring.lifecycler;
      v.Field("id", l.id);
      v.Field("num_tokens", l.num_tokens);
      v.Field("heartbeat_period", DurationField{&l.heartbeat_period});
      v.Field("join_after", DurationField{&l.join_after});
      v.Field("min_ready_duration", DurationField{&l.min_ready_duration});
      v.Field("final_sleep", DurationField{&l.final_sleep});
      v.Field("availability_zone", l.availability_zone);
      v.Field("tokens_file_path", l.tokens_file_path);
      v.Section("ring", [&] {
        VisitKvStore(l.kvstore, v);
        v.Field("heartbeat_timeout", DurationField{&l.heartbeat_timeout});
        v.Field("replication_factor", l.replication_factor);
        v.Field("zone_awareness_enabled", l.zone_awareness_enabled);
      });
    });
  });
  v.Section("querier", [&] {
    v.Field("max_concurrent", c.querier.max_concurrent);
    v.Field("index_refresh_interval", DurationField{&c.querier.index_refresh_interval});
    v.Field("query_ingesters_within", DurationField{&c.querier.query_ingesters_within});
  });
  v.Section("storage_config", [&] {
    v.Section("aws", [&] { VisitS3(c.storage.s3, v); });
    v.Section("index_queries_cache_config",
              [&] { VisitCache(c.storage.index_queries_cache_config, v); });
  });
  v.Section("chunk_store_config", [&] {
    v.Section("chunk_cache_config",
              [&] { VisitCache(c.chunk_store_config.chunk_cache_config, v); });
  });
  v.Section("query_range", [&] {
    v.Field("cache_results", c.query_range.cache_results);
    v.Section("results_cache", [&] {
      v.Section("cache", [&] { VisitCache(c.query_range.results_cache.cache, v); });
    });
  });
  v.Section("compactor", [&] {
    auto& k = c.compactor;
    v.Field("working_directory", k.working_directory);
    v.Field("compaction_interval", DurationField{&k.compaction_interval});
    v.Field("retention_enabled", k.retention_enabled);
    v.Field("retention_delete_delay", DurationField{&k.retention_delete_delay});
    v.Field("retention_delete_worker_count", k.retention_delete_worker_count);
    v.Field("delete_request_store", k.delete_request_store);
    v.Field("delete_request_cancel_period", DurationField{&k.delete_request_cancel_period});
  });
  v.Section("kafka_config", [&] {
    auto& k = c.kafka_config;
    v.Field("address", k.address);
    v.Field("topic", k.topic);
    v.Field("client_id", k.client_id);
    v.Field("dial_timeout", DurationField{&k.dial_timeout});
    v.Field("write_timeout", DurationField{&k.write_timeout});
    v.Field("sasl_username", k.sasl_username);
    v.Field("sasl_password", k.sasl_password);
    v.Field("consumer_group", k.consumer_group);
    v.Field("consumer_group_offset_commit_interval",
            DurationField{&k.consumer_group_offset_commit_interval});
    v.Field("auto_create_topic_enabled", k.auto_create_topic_enabled);
    v.Field("auto_create_topic_default_partitions", k.auto_create_topic_default_partitions);
    v.Field("producer_max_record_size_bytes", BytesField{&k.producer_max_record_size_bytes});
    v.Field("producer_max_buffered_bytes", BytesField{&k.producer_max_buffered_bytes});
    v.Field("max_consumer_lag_at_startup", DurationField{&k.max_consumer_lag_at_startup});
    v.Field("producer_linger", DurationField{&k.producer_linger});
    v.Field("librdkafka", k.librdkafka);
  });
  v.Section("frontend",
            [&] { v.Field("max_outstanding_per_tenant", c.frontend.max_outstanding_per_tenant); });
  v.Section("frontend_worker", [&] {
    v.Field("frontend_address", c.frontend_worker.frontend_address);
    v.Field("parallelism", c.frontend_worker.parallelism);
  });
  v.Section("ingester_client", [&] {
    auto& ic = c.ingester_client;
    v.Field("remote_timeout", DurationField{&ic.remote_timeout});
    v.Section("pool_config", [&] {
      v.Field("client_cleanup_period", DurationField{&ic.pool_config.client_cleanup_period});
      v.Field("health_check_ingesters", ic.pool_config.health_check_ingesters);
      v.Field("remote_timeout", DurationField{&ic.pool_config.remote_timeout});
    });
    v.Section("grpc_client_config", [&] {
      v.Field("max_recv_msg_size", BytesField{&ic.grpc_client_config.max_recv_msg_size});
      v.Field("max_send_msg_size", BytesField{&ic.grpc_client_config.max_send_msg_size});
    });
    v.Field("max_inflight_push_requests", ic.max_inflight_push_requests);
    v.Section("circuit_breaker", [&] {
      v.Field("failure_threshold", ic.circuit_breaker.failure_threshold);
      v.Field("cooldown", DurationField{&ic.circuit_breaker.cooldown});
    });
    v.Field("push_retries", ic.push_retries);
    v.Field("push_retry_backoff", DurationField{&ic.push_retry_backoff});
  });
  v.Section("runtime_config", [&] {
    v.Field("file", c.runtime_config.file);
    v.Field("period", DurationField{&c.runtime_config.period});
  });
  v.Section("pattern_ingester", [&] {
    auto& p = c.pattern_ingester;
    v.Field("enabled", p.enabled);
    v.Field("max_clusters", p.max_clusters);
    v.Field("max_eviction_ratio", p.max_eviction_ratio);
    v.Field("max_allowed_line_length", p.max_allowed_line_length);
    v.Field("retain_for", DurationField{&p.retain_for});
    v.Field("max_chunk_age", DurationField{&p.max_chunk_age});
    v.Field("pattern_sample_interval", DurationField{&p.pattern_sample_interval});
    v.Field("memory_budget", BytesField{&p.memory_budget});
  });
  v.Section("limits_config", [&] { VisitLimits(c.limits_config, v); });
  v.Section("tracing", [&] {
    v.Field("enabled", c.tracing.enabled);
    v.Field("otlp_endpoint", c.tracing.otlp_endpoint);
    v.Field("sampling_ratio", c.tracing.sampling_ratio);
    v.Field("service_name", c.tracing.service_name);
  });
  v.Section("testing", [&] {
    v.Section("fault", [&] {
      auto& f = c.testing.fault;
      v.Field("ingester_push_delay", DurationField{&f.ingester_push_delay});
      v.Field("store_delay", DurationField{&f.store_delay});
      v.Field("store_error_ratio", f.store_error_ratio);
    });
  });
  v.Section("syslog", [&] {
    v.List("listeners", c.syslog.listeners, [&](Config::SyslogListener& l) {
      v.Field("protocol", l.protocol);
      v.Field("listen_address", l.listen_address);
      v.Field("tenant", l.tenant);
      v.Field("labels", l.labels);
      v.Field("label_fields", l.label_fields);
      v.Field("use_incoming_timestamp", l.use_incoming_timestamp);
      v.Field("idle_timeout", DurationField{&l.idle_timeout});
      v.Field("max_message_length", BytesField{&l.max_message_length});
      v.Field("max_connections", l.max_connections);
    });
  });
}

}  // namespace

// Loki's storage_config.aws.s3 URL: s3://[key:secret@]region/bucket, or an S3-compatible
// server's http(s)://[key:secret@]host[:port]/bucket. Fields set explicitly win.
Status ApplyS3Url(Config::Storage::S3* s3) {
  if (s3->s3.empty()) return Status::OK();
  std::string_view url = s3->s3;
  const size_t scheme_end = url.find("://");
  const std::string_view scheme =
      scheme_end == std::string_view::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "s3" && scheme != "http" && scheme != "https") {
    return Status::InvalidArgument(fmt::format(
        "storage_config.aws.s3: \"{}\" is not s3://region/bucket or http(s)://host/bucket",
        s3->s3));
  }
  std::string_view rest = url.substr(scheme_end + 3);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view bucket = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  while (!bucket.empty() && bucket.back() == '/') bucket.remove_suffix(1);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view user = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = user.find(':');
    if (s3->access_key_id.empty()) s3->access_key_id = std::string(user.substr(0, colon));
    if (s3->secret_access_key.empty() && colon != std::string_view::npos) {
      s3->secret_access_key = std::string(user.substr(colon + 1));
    }
  }
  if (bucket.empty() || authority.empty()) {
    return Status::InvalidArgument(
        fmt::format("storage_config.aws.s3: \"{}\" names no bucket or host", s3->s3));
  }
  if (s3->bucketnames.empty()) s3->bucketnames = std::string(bucket);
  if (scheme == "s3") {
    if (s3->region.empty()) s3->region = std::string(authority);
  } else {
    if (s3->endpoint.empty()) s3->endpoint = std::string(authority);
    if (scheme == "http") s3->insecure = true;
    s3->s3forcepathstyle = true;
  }
  return Status::OK();
}

Result<Targets> Targets::Parse(std::string_view target) {
  Targets t;
  bool any = false;
  for (std::string_view name : SplitCommaList(target)) {
    any = true;
    if (name == "all") {
      t.all = t.distributor = t.ingester = t.querier = t.query_frontend = t.compactor = t.backend =
          true;
    } else if (name == "distributor") {
      t.distributor = true;
    } else if (name == "ingester") {
      t.ingester = true;
    } else if (name == "querier") {
      t.querier = true;
    } else if (name == "query-frontend") {
      t.query_frontend = true;
    } else if (name == "write") {
      t.distributor = t.ingester = true;
    } else if (name == "read") {
      t.query_frontend = t.querier = true;
    } else if (name == "compactor") {
      t.compactor = true;
    } else if (name == "backend") {
      t.backend = t.compactor = true;
    } else {
      return Status::InvalidArgument(
          fmt::format("unrecognised target \"{}\": one of all, distributor, ingester, querier, "
                      "query-frontend, compactor, write, read, backend, or a comma-separated "
                      "list of them",
                      name));
    }
  }
  if (!any) return Status::InvalidArgument("-target must name at least one target");
  return t;
}

Status Config::Finalize() {
  SLUICE_ASSIGN_OR_RETURN(targets, Targets::Parse(target));
  if (common.path_prefix.empty())
    return Status::InvalidArgument("common.path_prefix must not be empty");
  if (ingester.wal.dir.empty()) ingester.wal.dir = common.path_prefix + "/wal";
  if (storage.chunks_directory.empty()) storage.chunks_directory = common.path_prefix + "/chunks";
  if (compactor.working_directory.empty()) {
    compactor.working_directory = common.path_prefix + "/compactor";
  }
  SLUICE_RETURN_IF_ERROR(ApplyS3Url(&storage.s3));
  if (storage.s3.bucketnames.find(',') != std::string::npos) {
    return Status::InvalidArgument(fmt::format(
        "storage_config.aws.bucketnames: \"{}\" names several buckets; sluice stores in one",
        storage.s3.bucketnames));
  }
  if (compactor.compaction_interval <= 0) {
    return Status::InvalidArgument("compactor.compaction_interval must be positive");
  }
  if (compactor.retention_delete_delay < 0 || compactor.delete_request_cancel_period < 0) {
    return Status::InvalidArgument(
        "compactor.retention_delete_delay and delete_request_cancel_period must not be negative");
  }
  if (targets.all && distributor.kafka_writes_enabled != ingester.kafka_ingestion.enabled) {
    return Status::InvalidArgument(
        "in the single binary (-target=all) distributor.kafka_writes_enabled and "
        "ingester.kafka_ingestion.enabled go together: pushes written to Kafka are read back by "
        "the same process's ingester");
  }
  if (distributor.kafka_writes_enabled || ingester.kafka_ingestion.enabled) {
    if (kafka_config.topic.empty()) {
      return Status::InvalidArgument(
          "kafka_config.topic must be set when distributor.kafka_writes_enabled or "
          "ingester.kafka_ingestion.enabled");
    }
    if (kafka_config.address.empty())
      return Status::InvalidArgument("kafka_config.address is empty");
    if (kafka_config.write_timeout <= 0 ||
        kafka_config.consumer_group_offset_commit_interval <= 0) {
      return Status::InvalidArgument(
          "kafka_config.write_timeout and consumer_group_offset_commit_interval must be positive");
    }
    if (kafka_config.producer_max_record_size_bytes < 1024) {
      return Status::InvalidArgument(
          "kafka_config.producer_max_record_size_bytes must be at least 1KB");
    }
  }
  if (ingester.wal.fsync != "batch" && ingester.wal.fsync != "interval" &&
      ingester.wal.fsync != "never") {
    return Status::InvalidArgument(fmt::format(
        "ingester.wal.fsync: \"{}\" is not one of batch, interval, never", ingester.wal.fsync));
  }
  if (ingester.wal.checkpoint_duration < 1'000'000'000) {
    return Status::InvalidArgument("invalid checkpoint duration: must be at least 1s");
  }
  if (server.log_format != "logfmt" && server.log_format != "json") {
    return Status::InvalidArgument(
        fmt::format("server.log_format: \"{}\" is not logfmt or json", server.log_format));
  }
  if (server.http_listen_port < 0 || server.http_listen_port > 65535) {
    return Status::InvalidArgument("server.http_listen_port must be between 0 and 65535");
  }
  if (server.grpc_listen_port < 0 || server.grpc_listen_port > 65535) {
    return Status::InvalidArgument("server.grpc_listen_port must be between 0 and 65535");
  }
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (server.http_threads <= 0) server.http_threads = static_cast<int>(std::max(4u, 2 * cores));
  if (ingester.concurrency <= 0) ingester.concurrency = static_cast<int>(4 * cores);
  if (querier.max_concurrent <= 0) querier.max_concurrent = static_cast<int>(cores);
  if (ingester.concurrent_flushes <= 0) ingester.concurrent_flushes = 1;
  if (ingester.chunk_flush_compression_level < 0 || ingester.chunk_flush_compression_level > 19) {
    return Status::InvalidArgument(
        fmt::format("ingester.chunk_flush_compression_level: {} is not between 0 and 19",
                    ingester.chunk_flush_compression_level));
  }
  if (ingester.chunk_flush_block_size < 4096) {
    return Status::InvalidArgument("ingester.chunk_flush_block_size must be at least 4KB");
  }
  if (limits_config.ingestion_rate_strategy != "global" &&
      limits_config.ingestion_rate_strategy != "local") {
    return Status::InvalidArgument(
        fmt::format("limits_config.ingestion_rate_strategy: \"{}\" is not one of global, local",
                    limits_config.ingestion_rate_strategy));
  }
  // Loki's pattern ingester Config.Validate texts.
  const auto& pi = pattern_ingester;
  if (pi.retain_for < pi.max_chunk_age) {
    return Status::InvalidArgument(
        fmt::format("retain-for ({}) must be greater than or equal to chunk-duration ({})",
                    FormatDuration(pi.retain_for), FormatDuration(pi.max_chunk_age)));
  }
  if (pi.max_chunk_age < pi.pattern_sample_interval || pi.pattern_sample_interval <= 0) {
    return Status::InvalidArgument(
        fmt::format("chunk-duration ({}) must be greater than or equal to sample-interval ({})",
                    FormatDuration(pi.max_chunk_age), FormatDuration(pi.pattern_sample_interval)));
  }
  if (!(tracing.sampling_ratio >= 0 && tracing.sampling_ratio <= 1)) {
    return Status::InvalidArgument(
        fmt::format("tracing.sampling_ratio: {} is not between 0 and 1", tracing.sampling_ratio));
  }
  const auto& fault = testing.fault;
  if (!(fault.store_error_ratio >= 0 && fault.store_error_ratio <= 1) ||
      fault.ingester_push_delay < 0 || fault.store_delay < 0) {
    return Status::InvalidArgument(
        "testing.fault: delays must not be negative and store_error_ratio must be between 0 and 1");
  }
  SLUICE_RETURN_IF_ERROR(ring.Finalize(&ignored_loki_keys));
  return Status::OK();
}

namespace {

Status FinalizeKvStore(std::string_view section, KvStoreConfig& k, const KvStoreConfig& common,
                       std::vector<std::string>* ignored) {
  if (k.store == "memberlist" || k.store == "consul" || k.store == "multi") {
    ignored->push_back(fmt::format("{}.kvstore.store ({}: sluice keeps its ring in memory or etcd)",
                                   section, k.store));
    k.store = "inmemory";
  }
  if (k.store.empty()) k = common;
  if (k.store != "inmemory" && k.store != "etcd") {
    return Status::InvalidArgument(
        fmt::format("{}.kvstore.store: \"{}\" is not one of inmemory, etcd", section, k.store));
  }
  if (k.store == "etcd" && k.etcd.endpoints.empty()) {
    return Status::InvalidArgument(fmt::format(
        "{}.kvstore.etcd.endpoints: the etcd store needs at least one endpoint", section));
  }
  return Status::OK();
}

}  // namespace

Status RingConfig::Finalize(std::vector<std::string>* ignored) {
  if (common_kvstore.store.empty()) common_kvstore.store = "inmemory";
  SLUICE_RETURN_IF_ERROR(FinalizeKvStore("common.ring", common_kvstore, common_kvstore, ignored));
  SLUICE_RETURN_IF_ERROR(
      FinalizeKvStore("ingester.lifecycler.ring", lifecycler.kvstore, common_kvstore, ignored));
  SLUICE_RETURN_IF_ERROR(
      FinalizeKvStore("distributor.ring", distributor_kvstore, common_kvstore, ignored));
  if (common_replication_factor < 0) {
    return Status::InvalidArgument("common.replication_factor must be at least 1");
  }
  if (common_replication_factor > 0) lifecycler.replication_factor = common_replication_factor;
  if (instance_addr.empty()) instance_addr = common_ring_instance_addr;
  if (lifecycler.id.empty()) lifecycler.id = common_instance_id;
  if (lifecycler.availability_zone.empty()) lifecycler.availability_zone = common_availability_zone;
  lifecycler.zone_awareness_enabled = lifecycler.zone_awareness_enabled ||
                                      common_zone_awareness_enabled ||
                                      distributor_zone_awareness_enabled;
  if (lifecycler.replication_factor < 1) {
    return Status::InvalidArgument(
        "ingester.lifecycler.ring.replication_factor must be at least 1");
  }
  if (lifecycler.num_tokens < 1) {
    return Status::InvalidArgument("ingester.lifecycler.num_tokens must be at least 1");
  }
  if (lifecycler.heartbeat_period <= 0) {
    return Status::InvalidArgument("ingester.lifecycler.heartbeat_period must be positive");
  }
  if (lifecycler.id.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
      return Status::InvalidArgument("ingester.lifecycler.id: no host name to default to");
    }
    lifecycler.id = host;
  }
  return Status::OK();
}

// Loki keys whose sluice field has another name. Every other Loki key sluice has is spelled as
// in Loki (same path, same unit), so it needs no entry here.
constexpr KeyRename kLokiRenames[] = {
    {"storage_config.filesystem.directory", "common.storage.filesystem.chunks_directory"},
    {"query_range.split_queries_by_interval", "limits_config.split_queries_by_interval"},
};

Result<Config> ParseConfigYaml(std::string_view yaml) {
  Config config;
  ForeignKeys loki{&LokiKeys(), kLokiRenames, &config.ignored_loki_keys};
  SLUICE_RETURN_IF_ERROR(LoadYamlInto(
      yaml, [&](auto& v) { VisitConfig(config, v); }, &loki));
  return config;
}

std::vector<std::string> IgnoredLokiFeatureWarnings(const Config& config) {
  struct Feature {
    std::vector<std::string_view> prefixes;
    std::string message;
  };
  const Feature features[] = {
      {{"common.storage.gcs", "common.storage.azure", "common.storage.swift", "common.storage.cos",
        "common.storage.bos", "common.storage.alibabacloud", "common.storage.object_store",
        "storage_config.gcs", "storage_config.azure", "storage_config.swift", "storage_config.cos",
        "storage_config.bos", "storage_config.alibabacloud", "storage_config.object_store",
        "storage_config.named_stores", "storage_config.cassandra", "storage_config.bigtable",
        "storage_config.grpc_store"},
       fmt::format("msg=\"only S3-compatible object storage is supported (common.storage.s3): "
                   "chunks and index are stored on the local filesystem\" chunks_directory=\"{}\"",
                   config.storage.chunks_directory)},
      {{"table_manager.retention_period", "table_manager.retention_deletes_enabled"},
       "msg=\"the table manager's retention is not applied: configure the compactor's "
       "(compactor.retention_enabled, limits_config.retention_period)\""},
  };
  std::vector<std::string> warnings;
  for (const Feature& f : features) {
    std::vector<std::string> keys;
    for (const std::string& entry : config.ignored_loki_keys) {
      // A flag is listed as "-flag (path)".
      std::string_view path = entry;
      if (size_t open = path.find(" ("); entry.starts_with('-') && open != path.npos) {
        path = path.substr(open + 2, path.size() - open - 3);
      }
      for (std::string_view prefix : f.prefixes) {
        if (path.starts_with(prefix) &&
            (path.size() == prefix.size() || path[prefix.size()] == '.')) {
          keys.push_back(entry);
          break;
        }
      }
    }
    if (!keys.empty()) {
      warnings.push_back(fmt::format("{} keys=\"{}\"", f.message, fmt::join(keys, ", ")));
    }
  }
  return warnings;
}

std::string ExpandEnv(std::string_view text,
                      const std::function<const char*(const char*)>& getenv) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = text.find("${", i);
    size_t end = start == std::string_view::npos ? start : text.find('}', start);
    if (end == std::string_view::npos) break;
    out.append(text.substr(i, start - i));
    std::string_view ref = text.substr(start + 2, end - start - 2);
    size_t dflt = ref.find(":-");
    std::string name(ref.substr(0, dflt));
    const char* value = getenv(name.c_str());
    if (value != nullptr && (*value != '\0' || dflt == std::string_view::npos)) {
      out += value;
    } else if (dflt != std::string_view::npos) {
      out.append(ref.substr(dflt + 2));
    }
    i = end + 1;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

Result<Config> LoadConfig(const std::vector<std::string>& args) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<Flag> flags, ParseFlags(args));
  std::string file = TakeFlag(flags, "config.file");
  std::string expand_env = TakeFlag(flags, "config.expand-env");
  bool expand = false;
  SLUICE_RETURN_IF_ERROR(
      ParseScalar("-config.expand-env", expand_env.empty() ? "false" : expand_env, expand));
  Config config;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return Status::InvalidArgument(fmt::format("cannot read config file {}", file));
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (expand) text = ExpandEnv(text, [](const char* name) { return std::getenv(name); });
    auto parsed = ParseConfigYaml(text);
    if (!parsed.ok()) {
      return Status::InvalidArgument(fmt::format("{}: {}", file, parsed.status().message()));
    }
    config = std::move(parsed).value();
  }
  static constexpr FlagAlias kAliases[] = {
      {"log.level", "server.log_level"},
      {"log.format", "server.log_format"},
      {"auth.enabled", "auth_enabled"},
      {"runtime-config.file", "runtime_config.file"},
      // Loki's own flags for these two (its generated reference misspells them).
      {"kafka.address", "kafka_config.address"},
      {"kafka.topic", "kafka_config.topic"},
  };
  ForeignKeys loki{&LokiKeys(), kLokiRenames, &config.ignored_loki_keys};
  SLUICE_RETURN_IF_ERROR(ApplyFlags(
      flags, kAliases, [&](auto& v) { VisitConfig(config, v); }, &loki));
  SLUICE_RETURN_IF_ERROR(config.Finalize());
  return config;
}

namespace {

// `visit(copy, dumper)` as one YAML mapping; the visitors take mutable references, so a copy.
template <typename T, typename VisitFn>
std::string DumpYaml(T copy, VisitFn visit) {
  YamlDumper dumper;
  dumper.out() << YAML::BeginMap;
  visit(copy, dumper);
  dumper.out() << YAML::EndMap;
  return std::string(dumper.out().c_str()) + "\n";
}

}  // namespace

std::string DumpConfigYaml(const Config& config) {
  return DumpYaml(config, [](Config& c, YamlDumper& d) { VisitConfig(c, d); });
}

std::string DumpLimitsYaml(const Limits& limits) {
  return DumpYaml(limits, [](Limits& l, YamlDumper& d) { VisitLimits(l, d); });
}

Result<std::vector<TenantOverride>> ParseOverridesYaml(std::string_view yaml,
                                                       const Limits& defaults) {
  SLUICE_ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(yaml));
  std::vector<TenantOverride> out;
  if (root.IsNull()) return out;
  if (!root.IsMap()) return Status::InvalidArgument("runtime config must be a YAML mapping");
  for (const auto& kv : root) {
    auto key = kv.first.as<std::string>();
    if (key != "overrides") {
      return Status::InvalidArgument(fmt::format("unknown runtime configuration key \"{}\"", key));
    }
  }
  YAML::Node overrides = root["overrides"];
  if (!overrides || overrides.IsNull()) return out;
  if (!overrides.IsMap())
    return Status::InvalidArgument("overrides: expected a mapping of tenant to limits");
  for (const auto& kv : overrides) {
    TenantOverride o{kv.first.as<std::string>(), defaults};
    YamlLoader loader(kv.second);
    VisitLimits(o.limits, loader);
    auto st = loader.Finish();
    if (!st.ok())
      return Status::InvalidArgument(
          fmt::format("overrides for tenant {}: {}", o.tenant, st.message()));
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace sluice::config
