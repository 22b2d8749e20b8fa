#include "syslog/server.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"

namespace sluice::syslog {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

// Collects what the listeners push; waits are bounded.
class Collector {
 public:
  PushFn fn() {
    return [this](std::string_view, model::PushRequest& req) {
      MutexLock lock(&mu_);
      for (const auto& s : req.streams) {
        for (const auto& e : s.entries) {
          lines_.push_back(std::string(s.labels) + " " + std::string(e.line));
        }
      }
      return Status::OK();
    };
  }
  // The lines pushed once at least `n` have arrived, or what there is after 10 seconds.
  std::vector<std::string> WaitFor(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        MutexLock lock(&mu_);
        if (lines_.size() >= n) return lines_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    MutexLock lock(&mu_);
    return lines_;
  }

 private:
  Mutex mu_;
  std::vector<std::string> lines_ GUARDED_BY(mu_);
};

config::Config::SyslogListener Listener(std::string protocol) {
  config::Config::SyslogListener l;
  l.protocol = std::move(protocol);
  l.listen_address = "127.0.0.1:0";
  l.labels = {{"job", "sys"}};
  l.label_fields = {"app_name"};
  return l;
}

ServerOptions FastFlush() {
  ServerOptions o;
  o.flush_interval_ns = 10'000'000;
  return o;
}

tcp::socket Connect(asio::io_context& io, int port) {
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  return s;
}

// True when the server closed `s` within 10 seconds (a read returns EOF or an error).
bool ClosedByPeer(tcp::socket& s) {
  struct timeval tv = {10, 0};
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  boost::system::error_code ec;
  size_t n = s.read_some(asio::buffer(&c, 1), ec);
  return n == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset);
}

TEST(SyslogServer, TcpOctetCountingAndNewlineFramingPerConnection) {
  Collector got;
  Server server({Listener("tcp")}, nullptr, got.fn(), SystemClock::Default(), FastFlush());
  ASSERT_TRUE(server.Start().ok());
  asio::io_context io;
  auto counted = Connect(io, server.port(0));
  auto lines = Connect(io, server.port(0));
  std::string m1 = "<13>1 - h a1 - - - one";
  std::string m2 = "<13>1 - h a1 - - - two\nstill two";  // LF inside a counted frame
  asio::write(counted, asio::buffer(std::to_string(m1.size()) + " " + m1 +
                                    std::to_string(m2.size()) + " " + m2));
  asio::write(lines, asio::buffer(std::string("<13>Dec  7 05:37:24 h a2: three\n"
                                              "<13>Dec  7 05:37:24 h a2: four\n")));
  auto out = got.WaitFor(4);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<std::string>{R"({app_name="a1", job="sys"} one)",
                                           R"({app_name="a1", job="sys"} two)"
                                           "\nstill two",
                                           R"({app_name="a2", job="sys"} four)",
                                           R"({app_name="a2", job="sys"} three)"}));
  server.Stop();
}

TEST(SyslogServer, BrokenConnectionIsClosedAloneAndOversizeIsSkipped) {
  Collector got;
  auto l = Listener("tcp");
  l.max_message_length = 64;
  Server server({l}, nullptr, got.fn(), SystemClock::Default(), FastFlush());
  ASSERT_TRUE(server.Start().ok());
  asio::io_context io;
  auto bad = Connect(io, server.port(0));
  auto good = Connect(io, server.port(0));
  asio::write(bad, asio::buffer(std::string("1x <13>hi\n")));  // octet counting, bad count
  EXPECT_TRUE(ClosedByPeer(bad));
  asio::write(good, asio::buffer("<13>1 - h a - - - " + std::string(100, 'x') +
                                 "\nnot syslog\n<13>1 - h a - - - fine\n"));
  auto out = got.WaitFor(1);
  EXPECT_EQ(out, (std::vector<std::string>{R"({app_name="a", job="sys"} fine)"}));
  server.Stop();
}

TEST(SyslogServer, MaxConnectionsAndIdleTimeout) {
  Collector got;
  auto l = Listener("tcp");
  l.max_connections = 1;
  l.idle_timeout = 300'000'000;
  Server server({l}, nullptr, got.fn(), SystemClock::Default(), FastFlush());
  ASSERT_TRUE(server.Start().ok());
  asio::io_context io;
  auto first = Connect(io, server.port(0));
  asio::write(first, asio::buffer(std::string("<13>1 - h a - - - hi\n")));
  ASSERT_EQ(got.WaitFor(1).size(), 1u);  // the first connection is being served
  auto second = Connect(io, server.port(0));
  EXPECT_TRUE(ClosedByPeer(second));  // over max_connections
  EXPECT_TRUE(ClosedByPeer(first));   // idle for idle_timeout
  server.Stop();
}

TEST(SyslogServer, Udp) {
  Collector got;
  Server server({Listener("udp")}, nullptr, got.fn(), SystemClock::Default(), FastFlush());
  ASSERT_TRUE(server.Start().ok());
  asio::io_context io;
  udp::socket s(io, udp::endpoint(udp::v4(), 0));
  udp::endpoint to(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port(0)));
  s.send_to(asio::buffer(std::string("<13>Dec  7 05:37:24 h u1: one")), to);
  s.send_to(asio::buffer(std::string("<13>1 - h u2 - - - two\n<13>1 - h u2 - - - three\n")), to);
  auto out = got.WaitFor(3);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<std::string>{R"({app_name="u1", job="sys"} one)",
                                           R"({app_name="u2", job="sys"} three)",
                                           R"({app_name="u2", job="sys"} two)"}));
  server.Stop();
}

TEST(SyslogServer, StopFlushesPendingBatches) {
  Collector got;
  ServerOptions slow;
  slow.flush_interval_ns = 3600LL * 1'000'000'000;  // only Stop() flushes
  Server server({Listener("tcp")}, nullptr, got.fn(), SystemClock::Default(), slow);
  ASSERT_TRUE(server.Start().ok());
  {
    asio::io_context io;
    auto s = Connect(io, server.port(0));
    asio::write(s, asio::buffer(std::string("<13>1 - h a - - - pending\n")));
    s.shutdown(tcp::socket::shutdown_send);
    EXPECT_TRUE(ClosedByPeer(s));  // the server has read everything
  }
  EXPECT_TRUE(got.WaitFor(0).empty());
  server.Stop();
  EXPECT_EQ(got.WaitFor(1), (std::vector<std::string>{R"({app_name="a", job="sys"} pending)"}));
}

TEST(SyslogServer, BadSettingsAreRefused) {
  struct Case {
    void (*edit)(config::Config::SyslogListener&);
    const char* error;
  };
  const Case cases[] = {
      {[](auto& l) { l.protocol = "sctp"; },
       "syslog.listeners[0]: protocol \"sctp\" is not tcp or udp"},
      {[](auto& l) { l.listen_address = "localhost"; }, "want host:port"},
      {[](auto& l) { l.listen_address = "example.org:514"; }, "host must be an IP address"},
      {[](auto& l) { l.listen_address = "127.0.0.1:99999"; }, "invalid port"},
      {[](auto& l) { l.tenant = "a/b"; }, "tenant \"a/b\""},
      {[](auto& l) { l.labels["0bad"] = "x"; }, "invalid label name \"0bad\""},
      {[](auto& l) { l.label_fields = {"host"}; }, "label_fields: \"host\" is not one of"},
      {[](auto& l) { l.labels["app_name"] = "x"; }, "\"app_name\" is also set in labels"},
      {[](auto& l) { l.max_message_length = 0; }, "max_message_length"},
  };
  for (const Case& c : cases) {
    auto l = Listener("tcp");
    c.edit(l);
    Collector got;
    Server server({l}, nullptr, got.fn(), SystemClock::Default(), FastFlush());
    Status st = server.Start();
    ASSERT_FALSE(st.ok()) << c.error;
    EXPECT_NE(st.message().find(c.error), std::string::npos) << st.message();
  }
}

TEST(SyslogServer, PortInUseIsAnError) {
  asio::io_context io;
  tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto l = Listener("tcp");
  l.listen_address = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
  Collector got;
  Server server({Listener("udp"), l}, nullptr, got.fn(), SystemClock::Default(), FastFlush());
  Status st = server.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("syslog.listeners[1]: cannot bind tcp"), std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace sluice::syslog
