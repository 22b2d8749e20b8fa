#include "http/json_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace sluice::http {
namespace {

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST(JsonWriterTest, EscapesLikeGo) {
  EXPECT_EQ(Json("plain"), R"("plain")");
  EXPECT_EQ(Json("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Json("\n\r\t"), R"("\n\r\t")");
  EXPECT_EQ(Json(std::string("\x00\x01\x1f\b\f", 5)), R"("\u0000\u0001\u001f\u0008\u000c")");
  EXPECT_EQ(Json("<a href=\"x\">&</a>"), R"("\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e")");
  EXPECT_EQ(Json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(Json("\xe2\x80\xa8\xe2\x80\xa9"), R"("\u2028\u2029")");
  // Invalid UTF-8: each bad byte becomes U+FFFD.
  EXPECT_EQ(Json("a\xff"
                 "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(Json("\xc3"), R"("\ufffd")");                      // truncated sequence
  EXPECT_EQ(Json("\xc0\xaf"), R"("\ufffd\ufffd")");            // overlong
  EXPECT_EQ(Json("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
  EXPECT_EQ(Json("\x7f"), "\"\x7f\"");
}

TEST(JsonWriterTest, Numbers) {
  std::string out;
  AppendJsonFloat(&out, 0.25);
  out += ",";
  AppendJsonFloat(&out, 0);
  out += ",";
  AppendJsonInt(&out, -5);
  EXPECT_EQ(out, "0.25,0,-5");
}

}  // namespace
}  // namespace sluice::http
