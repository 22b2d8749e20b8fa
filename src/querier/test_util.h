#pragma once

// The read path as the server wires it, for tests (header-only, test code only): an ingester
// that flushes only when asked, the memory chunk store and index it flushes to, and a querier
// over a read::FanOut of both.

#include <functional>
#include <memory>
#include <vector>

#include "config/config.h"
#include "config/overrides.h"
#include "ingester/ingester.h"
#include "ingester/test_util.h"
#include "querier/querier.h"
#include "querier/store_source.h"
#include "read/read.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_writer.h"
#include "storage/test_util.h"

namespace sluice::querier::testing {

struct ReadStack {
  // `tune` adjusts the ingester's configuration before it starts.
  explicit ReadStack(const std::function<void(config::Config::Ingester*)>& tune = {})
      : clock(ingester::testing::kT0 + 60 * ingester::testing::kSecond),
        overrides(config::Limits{}, "", ingester::testing::kSecond) {
    const int64_t hour = 3600 * ingester::testing::kSecond;
    store = storage::NewMemoryStore();
    index_writer = std::make_unique<storage::index::IndexWriter>(store.get(), "test", &clock);
    index_reader = std::make_unique<storage::index::IndexReader>(store.get(), 0, &clock);
    config.wal.dir = dir.path() + "/wal";
    config.flush_check_period = hour;  // flushes only when the test asks
    config.wal.checkpoint_duration = hour;
    config.wal.fsync = "never";
    if (tune) tune(&config);
    ing = std::make_unique<ingester::Ingester>(config, &overrides, store.get(), index_writer.get(),
                                               &clock);
    start_status = ing->Start();
    store_source = std::make_unique<StoreSource>(store.get(), index_reader.get(), &clock);
    fan_out = std::make_unique<read::FanOut>(
        std::vector<read::StreamSource*>{ing.get(), store_source.get()});
    querier = std::make_unique<Querier>(fan_out.get(), &overrides, &clock);
  }
  ~ReadStack() {
    if (start_status.ok() && !ing->stopping()) (void)ing->Shutdown(false);
  }

  storage::TempDir dir;
  storage::ManualClock clock;
  config::Overrides overrides;
  config::Config::Ingester config;
  storage::ObjectStorePtr store;
  std::unique_ptr<storage::index::IndexWriter> index_writer;
  std::unique_ptr<storage::index::IndexReader> index_reader;
  std::unique_ptr<ingester::Ingester> ing;
  Status start_status;
  std::unique_ptr<StoreSource> store_source;
  std::unique_ptr<read::FanOut> fan_out;
  std::unique_ptr<Querier> querier;
};

}  // namespace sluice::querier::testing
