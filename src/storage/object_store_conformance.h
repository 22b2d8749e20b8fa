#pragma once

// The behaviour every ObjectStore must have, as a value-parameterized gtest suite. The tests live
// in object_store_conformance_test.cc; an implementation runs them by instantiating the suite with
// a factory that returns a fresh, empty store per test:
//
//   INSTANTIATE_TEST_SUITE_P(Filesystem, ObjectStoreConformanceTest,
//                            ::testing::Values(ObjectStoreFactory{"Filesystem", &MakeStore}),
//                            ObjectStoreFactoryName);

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "storage/object_store.h"

namespace sluice::storage {

struct ObjectStoreFactory {
  std::string name;                      // A gtest name suffix: [A-Za-z0-9_] only.
  std::function<ObjectStorePtr()> make;  // Each call returns an empty store; it owns its cleanup.
  // False only for a test double of a real service that overwrites objects in place (s3rver):
  // the torn-read test is skipped for it, since the service itself (S3) does not tear.
  bool atomic_overwrite = true;
};

inline std::string ObjectStoreFactoryName(
    const ::testing::TestParamInfo<ObjectStoreFactory>& info) {
  return info.param.name;
}

class ObjectStoreConformanceTest : public ::testing::TestWithParam<ObjectStoreFactory> {
 protected:
  void SetUp() override { store_ = GetParam().make(); }
  ObjectStore& store() { return *store_; }

 private:
  ObjectStorePtr store_;
};

}  // namespace sluice::storage
