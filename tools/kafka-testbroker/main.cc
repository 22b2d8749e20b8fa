// sluice-kafka-testbroker: librdkafka's mock Kafka cluster as a process, because Kafka itself is
// not packaged for Debian. Tests, and people trying the Kafka write path, point producers,
// consumers and kcat at it. Data lives in memory only and is gone when the process exits.
//
//   sluice-kafka-testbroker [--brokers N] [--topic NAME --partitions P]
//
// The mock brokers listen on 127.0.0.1 (librdkafka binds its mock listeners to the loopback
// address, on ports the kernel picks). The first line on stdout is
//   bootstrap=127.0.0.1:PORT,127.0.0.1:PORT,...
// flushed at once; then the process runs until SIGTERM or SIGINT. Topics that are not created
// with --topic are auto-created on first use by the mock cluster (with its default partition
// count), as a broker with auto.create.topics.enable would.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: sluice-kafka-testbroker [--brokers N] [--topic NAME --partitions P]\n");
  return 2;
}

bool ParsePositive(const char* s, int* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v <= 0 || v > 1000) return false;
  *out = static_cast<int>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  int partitions = 1;
  std::string topic;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) return Usage();
    if (a == "--brokers") {
      if (!ParsePositive(argv[++i], &brokers)) return Usage();
    } else if (a == "--topic") {
      topic = argv[++i];
    } else if (a == "--partitions") {
      if (!ParsePositive(argv[++i], &partitions)) return Usage();
    } else {
      return Usage();
    }
  }

  // SIGTERM and SIGINT are blocked before any librdkafka thread exists (threads inherit the mask),
  // so they stay pending until the sigwait below takes them, whichever thread they were sent to.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The mock cluster lives inside a client handle; this producer is never used to produce.
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Quiet the notice that this handle has no bootstrap.servers: it hosts the cluster only.
  rd_kafka_conf_set(conf, "log_level", "4", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    std::fprintf(stderr, "sluice-kafka-testbroker: rd_kafka_new: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    std::fprintf(stderr, "sluice-kafka-testbroker: rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  if (!topic.empty()) {
    // Replication is capped by the broker count, as a real cluster would require.
    rd_kafka_resp_err_t e =
        rd_kafka_mock_topic_create(mc, topic.c_str(), partitions, brokers < 3 ? brokers : 3);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "sluice-kafka-testbroker: creating topic %s: %s\n", topic.c_str(),
                   rd_kafka_err2str(e));
      rd_kafka_mock_cluster_destroy(mc);
      rd_kafka_destroy(rk);
      return 1;
    }
  }

  std::printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  std::fflush(stdout);

  // The brokers run on the mock cluster's own thread; this one only waits for a signal.
  int sig = 0;
  sigwait(&stop_signals, &sig);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
