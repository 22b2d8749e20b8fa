#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <type_traits>

#include "common/thread_annotations.h"

namespace sluice {

// Locks the thread-safety analysis understands (common/thread_annotations.h). They are thin
// wrappers: libstdc++'s std::mutex and std::shared_mutex carry no capability annotations, so
// members guarded by them could not be checked. Each wrapper holds the std type and nothing
// else; every method is an inline forward.
//
//   Mutex mu_;
//   int64_t bytes_ GUARDED_BY(mu_) = 0;
//   void Add(int64_t n) EXCLUDES(mu_) { MutexLock lock(&mu_); bytes_ += n; }

class CondVar;

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

  // Tells the analysis the calling thread holds the lock, where it cannot see that itself (a
  // lock taken by a caller it does not follow). std::mutex does not know its owner, so nothing
  // is checked at run time: only state what the code guarantees.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

  // BasicLockable / Lockable spelling, so std::scoped_lock and std::unique_lock accept a Mutex.
  // The analysis does not follow those std types: prefer MutexLock.
  void lock() ACQUIRE() { Lock(); }
  void unlock() RELEASE() { Unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return TryLock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope. Unlock()/Lock() let a scope drop the lock around slow work (an
// upload, a callback) and take it back; the destructor releases only if it is held then.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() {
    if (held_) {
      mu_->Unlock();
    }
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    mu_->Unlock();
    held_ = false;
  }
  void Lock() ACQUIRE() {
    mu_->Lock();
    held_ = true;
  }

 private:
  Mutex* const mu_;
  bool held_ = true;
};

// A reader-writer lock: many readers or one writer.
class CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  void ReaderLock() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void ReaderUnlock() RELEASE_SHARED() { mu_.unlock_shared(); }
  bool ReaderTryLock() TRY_ACQUIRE_SHARED(true) { return mu_.try_lock_shared(); }

  // As Mutex::AssertHeld: informs the analysis, checks nothing at run time.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}
  void AssertReaderHeld() const ASSERT_SHARED_CAPABILITY(this) {}

  // SharedLockable spelling, for std::shared_lock / std::unique_lock.
  void lock() ACQUIRE() { Lock(); }
  void unlock() RELEASE() { Unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return TryLock(); }
  void lock_shared() ACQUIRE_SHARED() { ReaderLock(); }
  void unlock_shared() RELEASE_SHARED() { ReaderUnlock(); }
  bool try_lock_shared() TRY_ACQUIRE_SHARED(true) { return ReaderTryLock(); }

 private:
  std::shared_mutex mu_;
};

// Holds a SharedMutex shared (as a reader) for its scope.
class SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex* mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_->ReaderLock(); }
  ~ReaderMutexLock() RELEASE() { mu_->ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// Holds a SharedMutex exclusively (as the writer) for its scope.
class SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterMutexLock() RELEASE() { mu_->Unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// A condition variable used with a Mutex, at the cost of a plain std::condition_variable: a wait
// adopts the Mutex's std::mutex into a std::unique_lock, waits, and releases the unique_lock
// without unlocking, so the caller holds the Mutex again afterwards, as the annotation says.
//
// The predicate forms read guarded state, so give the lambda the caller's lock requirement:
//   cv_.Wait(&mu_, [this]() REQUIRES(mu_) { return stop_ || !queue_.empty(); });
// (the analysis checks the lambda's body against that; it cannot connect the lambda's lock with
// the `mu` argument inside the wait itself, which is why the predicate forms skip the analysis.)
class CondVar {
  using StdLock = std::unique_lock<std::mutex>;

 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu) REQUIRES(mu) {
    Adopted(mu, [this](StdLock& lock) { cv_.wait(lock); });
  }

  // Returns when pred() holds.
  template <typename Predicate>
  void Wait(Mutex* mu, Predicate pred) REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    Adopted(mu, [&](StdLock& lock) { cv_.wait(lock, std::move(pred)); });
  }

  // std::cv_status::timeout when the time ran out (the wakeup may also be spurious).
  template <typename Rep, typename Period>
  std::cv_status WaitFor(Mutex* mu, std::chrono::duration<Rep, Period> timeout) REQUIRES(mu) {
    return Adopted(mu, [&](StdLock& lock) { return cv_.wait_for(lock, timeout); });
  }

  // Returns pred() at the end: false only when the time ran out first.
  template <typename Rep, typename Period, typename Predicate>
  bool WaitFor(Mutex* mu, std::chrono::duration<Rep, Period> timeout, Predicate pred)
      REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    return Adopted(mu, [&](StdLock& lock) { return cv_.wait_for(lock, timeout, std::move(pred)); });
  }

  template <typename Clock, typename Duration>
  std::cv_status WaitUntil(Mutex* mu, std::chrono::time_point<Clock, Duration> deadline)
      REQUIRES(mu) {
    return Adopted(mu, [&](StdLock& lock) { return cv_.wait_until(lock, deadline); });
  }

  template <typename Clock, typename Duration, typename Predicate>
  bool WaitUntil(Mutex* mu, std::chrono::time_point<Clock, Duration> deadline, Predicate pred)
      REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    return Adopted(mu,
                   [&](StdLock& lock) { return cv_.wait_until(lock, deadline, std::move(pred)); });
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  // Runs wait(lock) with a std::unique_lock that adopts the caller's hold on *mu, then lets go of
  // it without unlocking (also if wait throws): *mu is held before and after, as REQUIRES says.
  template <typename WaitFn>
  static std::invoke_result_t<WaitFn&, StdLock&> Adopted(Mutex* mu, WaitFn wait) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    struct GiveBack {
      StdLock& lock;
      ~GiveBack() { lock.release(); }
    } give_back{lock};
    return wait(lock);
  }

  std::condition_variable cv_;
};

}  // namespace sluice
