#pragma once

// Clang's thread-safety analysis (-Wthread-safety): these macros tell the compiler which lock
// guards which member and which locks a function needs, so a read of a guarded member without
// its lock is a compile error in the clang build (scripts/check-clang.sh). Other compilers see
// nothing. Only types declared as capabilities take part: std::mutex carries no annotations in
// libstdc++, which is why common/mutex.h wraps it.
//
// Reference: https://clang.llvm.org/docs/ThreadSafetyAnalysis.html

#if defined(__clang__)
#define SLUICE_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SLUICE_THREAD_ANNOTATION(x)
#endif

// On a class: its objects are locks ("mutex" names the kind in diagnostics).
#define CAPABILITY(kind) SLUICE_THREAD_ANNOTATION(capability(kind))

// On a class: an RAII object that holds a lock from its constructor to its destructor.
#define SCOPED_CAPABILITY SLUICE_THREAD_ANNOTATION(scoped_lockable)

// On a member: reading it needs the lock shared, writing it needs the lock exclusive.
#define GUARDED_BY(lock) SLUICE_THREAD_ANNOTATION(guarded_by(lock))

// On a pointer member: the same, for what it points at (the pointer itself is unguarded).
#define PT_GUARDED_BY(lock) SLUICE_THREAD_ANNOTATION(pt_guarded_by(lock))

// On a function: callers must hold the locks (exclusive / at least shared).
#define REQUIRES(...) SLUICE_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SLUICE_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))

// On a function: it takes the locks (exclusive / shared) and returns holding them. With no
// argument on a lock's own method, the lock is *this.
#define ACQUIRE(...) SLUICE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) SLUICE_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))

// On a function: it releases locks its caller held (exclusive / shared).
#define RELEASE(...) SLUICE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SLUICE_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))

// On a function: it takes the lock only when it returns the given value (first argument).
#define TRY_ACQUIRE(...) SLUICE_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) SLUICE_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))

// On a function: callers must not hold the locks (it takes them itself; no self-deadlock).
#define EXCLUDES(...) SLUICE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// On a function: after a call the analysis assumes the lock is held (exclusive / shared).
#define ASSERT_CAPABILITY(lock) SLUICE_THREAD_ANNOTATION(assert_capability(lock))
#define ASSERT_SHARED_CAPABILITY(lock) SLUICE_THREAD_ANNOTATION(assert_shared_capability(lock))

// On a function: it returns a reference to the given lock.
#define RETURN_CAPABILITY(lock) SLUICE_THREAD_ANNOTATION(lock_returned(lock))

// On a function: the analysis skips its body. Each use says why next to it.
#define NO_THREAD_SAFETY_ANALYSIS SLUICE_THREAD_ANNOTATION(no_thread_safety_analysis)
