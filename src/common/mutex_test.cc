#include "common/mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <thread>
#include <vector>

namespace sluice {
namespace {

// Whether another thread could take the lock now, exclusively or (kShared) shared; it releases
// it again at once.
template <bool kShared = false, typename Lockable>
bool FreeForOthers(Lockable* mu) {
  auto try_take = [mu] {
    bool taken;
    if constexpr (kShared) {
      taken = mu->ReaderTryLock();
      if (taken) {
        mu->ReaderUnlock();
      }
    } else {
      taken = mu->TryLock();
      if (taken) {
        mu->Unlock();
      }
    }
    return taken;
  };
  return std::async(std::launch::async, try_take).get();
}

struct Counter {
  Mutex mu;
  int64_t value GUARDED_BY(mu) = 0;
};

TEST(MutexTest, MutexLockExcludesOtherThreads) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10000; ++i) {
        MutexLock lock(&c.mu);
        ++c.value;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  MutexLock lock(&c.mu);
  EXPECT_EQ(c.value, 40000);
}

TEST(MutexTest, TryLockFailsWhileHeldElsewhere) {
  Mutex mu;
  {
    MutexLock lock(&mu);
    EXPECT_FALSE(FreeForOthers(&mu));
  }
  EXPECT_TRUE(FreeForOthers(&mu));
  ASSERT_TRUE(mu.TryLock());
  mu.AssertHeld();
  EXPECT_FALSE(FreeForOthers(&mu));
  mu.Unlock();
}

TEST(MutexTest, MutexLockCanDropAndRetakeTheLock) {
  Mutex mu;
  {
    MutexLock lock(&mu);
    lock.Unlock();
    EXPECT_TRUE(FreeForOthers(&mu));
    lock.Lock();
    EXPECT_FALSE(FreeForOthers(&mu));
  }
  EXPECT_TRUE(FreeForOthers(&mu));
  {
    // Leaving the scope unlocked must not unlock a second time.
    MutexLock lock(&mu);
    lock.Unlock();
  }
  EXPECT_TRUE(FreeForOthers(&mu));
}

TEST(MutexTest, WorksWithStandardLockTypes) {
  Mutex mu;
  {
    std::scoped_lock lock(mu);
    EXPECT_FALSE(FreeForOthers(&mu));
  }
  {
    std::unique_lock lock(mu, std::try_to_lock);
    EXPECT_TRUE(lock.owns_lock());
  }
  EXPECT_TRUE(FreeForOthers(&mu));
}

TEST(SharedMutexTest, ReadersShareWritersExclude) {
  SharedMutex mu;
  {
    ReaderMutexLock lock(&mu);
    EXPECT_TRUE(FreeForOthers<true>(&mu));
    EXPECT_FALSE(FreeForOthers(&mu));
  }
  {
    WriterMutexLock lock(&mu);
    EXPECT_FALSE(FreeForOthers<true>(&mu));
    EXPECT_FALSE(FreeForOthers(&mu));
  }
  EXPECT_TRUE(FreeForOthers(&mu));
  {
    std::shared_lock lock(mu);
    EXPECT_FALSE(FreeForOthers(&mu));
  }
  EXPECT_TRUE(FreeForOthers(&mu));
}

struct Queue {
  Mutex mu;
  CondVar cv;
  std::deque<int> items GUARDED_BY(mu);
  bool closed GUARDED_BY(mu) = false;
};

TEST(CondVarTest, WaitWithPredicateSeesEveryItem) {
  Queue q;
  std::thread producer([&q] {
    for (int i = 1; i <= 1000; ++i) {
      MutexLock lock(&q.mu);
      q.items.push_back(i);
      q.cv.Signal();
    }
    MutexLock lock(&q.mu);
    q.closed = true;
    q.cv.SignalAll();
  });
  int64_t sum = 0;
  MutexLock lock(&q.mu);
  while (true) {
    q.cv.Wait(&q.mu, [&q]() REQUIRES(q.mu) { return q.closed || !q.items.empty(); });
    if (q.items.empty()) {
      break;
    }
    sum += q.items.front();
    q.items.pop_front();
  }
  lock.Unlock();
  producer.join();
  EXPECT_EQ(sum, 1000 * 1001 / 2);
}

TEST(CondVarTest, WaitReturnsHoldingTheMutex) {
  Queue q;
  std::atomic<bool> waiting{false};
  std::thread signaller([&] {
    while (!waiting.load()) {
      std::this_thread::yield();
    }
    MutexLock lock(&q.mu);  // the waiter released it while waiting
    q.closed = true;
    q.cv.SignalAll();
  });
  {
    MutexLock lock(&q.mu);
    waiting = true;
    while (!q.closed) {
      q.cv.Wait(&q.mu);
    }
    EXPECT_FALSE(FreeForOthers(&q.mu));
  }
  EXPECT_TRUE(FreeForOthers(&q.mu));
  signaller.join();
}

TEST(CondVarTest, TimedWaitsTimeOut) {
  Queue q;
  MutexLock lock(&q.mu);
  EXPECT_EQ(q.cv.WaitFor(&q.mu, std::chrono::milliseconds(1)), std::cv_status::timeout);
  EXPECT_EQ(q.cv.WaitUntil(&q.mu, std::chrono::steady_clock::now() + std::chrono::milliseconds(1)),
            std::cv_status::timeout);
  auto closed = [&q]() REQUIRES(q.mu) { return q.closed; };
  EXPECT_FALSE(q.cv.WaitFor(&q.mu, std::chrono::milliseconds(1), closed));
  EXPECT_FALSE(q.cv.WaitUntil(
      &q.mu, std::chrono::steady_clock::now() + std::chrono::milliseconds(1), closed));
  EXPECT_FALSE(FreeForOthers(&q.mu));
  q.closed = true;
  // A predicate that holds already returns at once, whatever the timeout.
  EXPECT_TRUE(q.cv.WaitFor(&q.mu, std::chrono::hours(1), closed));
  EXPECT_TRUE(
      q.cv.WaitUntil(&q.mu, std::chrono::steady_clock::now() + std::chrono::hours(1), closed));
}

TEST(CondVarTest, TimedWaitWakesOnSignal) {
  Queue q;
  std::thread closer([&q] {
    MutexLock lock(&q.mu);
    q.closed = true;
    q.cv.SignalAll();
  });
  {
    MutexLock lock(&q.mu);
    EXPECT_TRUE(
        q.cv.WaitFor(&q.mu, std::chrono::hours(1), [&q]() REQUIRES(q.mu) { return q.closed; }));
  }
  closer.join();
}

}  // namespace
}  // namespace sluice
