#include "storage/object_store_conformance.h"

#include <atomic>
#include <thread>
#include <vector>

namespace sluice::storage {
namespace {

using Keys = std::vector<std::string>;

TEST_P(ObjectStoreConformanceTest, PutThenGet) {
  ASSERT_TRUE(store().Put("chunks/t1/a", "hello").ok());
  auto got = store().Get("chunks/t1/a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "hello");
}

TEST_P(ObjectStoreConformanceTest, EmptyAndBinaryObjects) {
  ASSERT_TRUE(store().Put("empty", "").ok());
  EXPECT_EQ(*store().Get("empty"), "");
  std::string binary("a\0b\xff\n", 5);
  ASSERT_TRUE(store().Put("bin", binary).ok());
  EXPECT_EQ(*store().Get("bin"), binary);
}

TEST_P(ObjectStoreConformanceTest, LargeObject) {
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  ASSERT_TRUE(store().Put("big/object", big).ok());
  EXPECT_EQ(*store().Get("big/object"), big);
}

TEST_P(ObjectStoreConformanceTest, OverwriteReplaces) {
  ASSERT_TRUE(store().Put("k", "a much longer first value").ok());
  ASSERT_TRUE(store().Put("k", "short").ok());
  EXPECT_EQ(*store().Get("k"), "short");
  EXPECT_EQ(*store().List(""), Keys{"k"});
}

TEST_P(ObjectStoreConformanceTest, MissingKeyIsNotFound) {
  EXPECT_EQ(store().Get("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store().GetRange("nope", 0, 10).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store().Put("dir/file", "x").ok());
  // A key's folder is not an object, and a path through an object is not one either.
  EXPECT_EQ(store().Get("dir").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store().Get("dir/file/deeper").status().code(), StatusCode::kNotFound);
}

TEST_P(ObjectStoreConformanceTest, GetRange) {
  ASSERT_TRUE(store().Put("r", "0123456789").ok());
  EXPECT_EQ(*store().GetRange("r", 0, 3), "012");
  EXPECT_EQ(*store().GetRange("r", 4, 2), "45");
  EXPECT_EQ(*store().GetRange("r", 8, 100), "89");  // Clamped at the end.
  EXPECT_EQ(*store().GetRange("r", 0, UINT64_MAX), "0123456789");
  EXPECT_EQ(*store().GetRange("r", 3, 0), "");
  EXPECT_EQ(*store().GetRange("r", 10, 5), "");
  EXPECT_EQ(*store().GetRange("r", 1000, 5), "");
}

TEST_P(ObjectStoreConformanceTest, ListIsRecursiveSortedAndPrefixed) {
  for (const char* key : {"index/2/t/b.idx", "index/1/t/z.idx", "index/1/t/a.idx",
                          "index/1/u/a.idx", "index/10/t/a.idx", "chunks/t/x", "indexed"}) {
    ASSERT_TRUE(store().Put(key, key).ok());
  }
  EXPECT_EQ(*store().List("index/1/"),
            (Keys{"index/1/t/a.idx", "index/1/t/z.idx", "index/1/u/a.idx"}));
  EXPECT_EQ(*store().List("index/1/t/"), (Keys{"index/1/t/a.idx", "index/1/t/z.idx"}));
  // A prefix need not end at a folder boundary.
  EXPECT_EQ(*store().List("index/1"),
            (Keys{"index/1/t/a.idx", "index/1/t/z.idx", "index/1/u/a.idx", "index/10/t/a.idx"}));
  EXPECT_EQ(*store().List("index/1/t/a"), Keys{"index/1/t/a.idx"});
  EXPECT_EQ(*store().List("index"), (Keys{"index/1/t/a.idx", "index/1/t/z.idx", "index/1/u/a.idx",
                                          "index/10/t/a.idx", "index/2/t/b.idx", "indexed"}));
  EXPECT_EQ(store().List("")->size(), 7u);
  EXPECT_EQ(store().List("")->front(), "chunks/t/x");
  EXPECT_TRUE(store().List("missing/")->empty());
  EXPECT_TRUE(store().List("index/3/")->empty());
  EXPECT_TRUE(store().List("index/1/t/a.idx/")->empty());
}

TEST_P(ObjectStoreConformanceTest, DeleteRemovesAndMissingIsOk) {
  ASSERT_TRUE(store().Put("a/b", "1").ok());
  ASSERT_TRUE(store().Put("a/c", "2").ok());
  ASSERT_TRUE(store().Delete("a/b").ok());
  EXPECT_EQ(store().Get("a/b").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store().List("a/"), Keys{"a/c"});
  EXPECT_TRUE(store().Delete("a/b").ok());
  EXPECT_TRUE(store().Delete("never/was").ok());
  EXPECT_TRUE(store().Delete("a").ok());  // A folder, not an object: nothing to delete.
  EXPECT_EQ(*store().Get("a/c"), "2");
  // A deleted key can be written again.
  ASSERT_TRUE(store().Put("a/b", "3").ok());
  EXPECT_EQ(*store().Get("a/b"), "3");
}

TEST_P(ObjectStoreConformanceTest, RejectsKeysThatCouldEscapeTheRoot) {
  const std::string bad[] = {"",
                             "/etc/passwd",
                             "../x",
                             "a/../../x",
                             "a/..",
                             "..",
                             "./a",
                             "a/./b",
                             "a//b",
                             "a/",
                             "/",
                             std::string("a\0b", 3),
                             ".sluice/tmp/x",
                             ".sluice"};
  for (const auto& key : bad) {
    SCOPED_TRACE(key);
    EXPECT_EQ(store().Put(key, "x").code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store().Get(key).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store().GetRange(key, 0, 1).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store().Delete(key).code(), StatusCode::kInvalidArgument);
  }
  for (const char* prefix : {"/", "/etc", "../", "a/../", "a//", ".sluice/"}) {
    SCOPED_TRACE(prefix);
    EXPECT_EQ(store().List(prefix).status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(store().List("")->empty());
  // Dots are fine inside names.
  ASSERT_TRUE(store().Put("a/..b/c..", "ok").ok());
  ASSERT_TRUE(store().Put(".hidden", "ok").ok());
  EXPECT_EQ(*store().List("a/."), Keys{"a/..b/c.."});
  EXPECT_EQ(*store().List("."), Keys{".hidden"});
}

TEST_P(ObjectStoreConformanceTest, ConcurrentReadersSeeWholeObjects) {
  if (!GetParam().atomic_overwrite) GTEST_SKIP() << GetParam().name << " overwrites in place";
  const std::string a(64 << 10, 'a');
  const std::string b(96 << 10, 'b');
  ASSERT_TRUE(store().Put("k", a).ok());
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto got = store().Get("k");
      if (!got.ok() || (*got != a && *got != b)) torn.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 20; ++i) ASSERT_TRUE(store().Put("k", (i + w) % 2 == 0 ? a : b).ok());
    });
  }
  for (auto& t : writers) t.join();
  done.store(true);
  reader.join();
  EXPECT_EQ(torn.load(), 0);
}

}  // namespace
}  // namespace sluice::storage
