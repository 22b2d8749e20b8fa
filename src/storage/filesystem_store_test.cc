#include "storage/filesystem_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/object_store_conformance.h"
#include "storage/test_util.h"

namespace sluice::storage {
namespace {

// A filesystem store that owns (and removes) its temporary root.
class TempFilesystemStore final : public ForwardingStore {
 public:
  TempFilesystemStore() : store_(NewFilesystemStore(dir_.path())) { set_inner(store_.get()); }

 private:
  TempDir dir_;  // Declared first: outlives store_.
  ObjectStorePtr store_;
};

INSTANTIATE_TEST_SUITE_P(
    Filesystem, ObjectStoreConformanceTest,
    ::testing::Values(ObjectStoreFactory{
        "Filesystem", [] { return ObjectStorePtr(std::make_unique<TempFilesystemStore>()); }}),
    ObjectStoreFactoryName);

INSTANTIATE_TEST_SUITE_P(Memory, ObjectStoreConformanceTest,
                         ::testing::Values(ObjectStoreFactory{"Memory",
                                                              [] { return NewMemoryStore(); }}),
                         ObjectStoreFactoryName);

TEST(FilesystemStoreTest, KeysAreFilesUnderTheRootAndTemporariesAreHidden) {
  TempDir dir;
  auto store = NewFilesystemStore(dir.path() + "/");
  ASSERT_TRUE(store->Put("chunks/t/1", "data").ok());
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.path() + "/chunks/t/1"));
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/.sluice/tmp"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/.sluice/tmp"));
  EXPECT_EQ(*store->List(""), std::vector<std::string>{"chunks/t/1"});
  // A second store on the same directory sees the same objects.
  auto other = NewFilesystemStore(dir.path());
  EXPECT_EQ(*other->Get("chunks/t/1"), "data");
}

TEST(FilesystemStoreTest, ObjectCannotAlsoBeAFolder) {
  TempDir dir;
  auto store = NewFilesystemStore(dir.path());
  ASSERT_TRUE(store->Put("a/b", "1").ok());
  EXPECT_EQ(store->Put("a", "2").code(), StatusCode::kIOError);
  EXPECT_EQ(store->Put("a/b/c", "3").code(), StatusCode::kIOError);
  EXPECT_EQ(*store->Get("a/b"), "1");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/.sluice/tmp"));
}

TEST(FilesystemStoreTest, MissingRootReportsIOError) {
  auto store = NewFilesystemStore("/proc/sluice-no-such-root");
  EXPECT_EQ(store->Put("a", "1").code(), StatusCode::kIOError);
  EXPECT_TRUE(store->List("")->empty());
}

}  // namespace
}  // namespace sluice::storage
