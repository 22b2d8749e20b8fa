#include "syslog/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "common/mutex.h"
#include "model/labels.h"
#include "model/tenant.h"
#include "syslog/framing.h"
#include "write/discard.h"

namespace sluice::syslog {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxDatagram = 65536;
// Larger values buy nothing for a log line and let one client pin that much memory per frame.
constexpr uint64_t kMaxMessageLengthCeiling = 16ull << 20;

// "host:port", "[v6]:port" or ":port" (every interface).
Result<asio::ip::address> ParseHost(std::string_view host) {
  if (host.empty()) return asio::ip::address(asio::ip::address_v4::any());
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(std::string(host), ec);
  if (ec) return Status::InvalidArgument("host must be an IP address");
  return addr;
}

Result<std::pair<asio::ip::address, uint16_t>> ParseListenAddress(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Status::InvalidArgument("want host:port");
  std::string_view port_text = text.substr(colon + 1);
  int port = 0;
  if (port_text.empty() || port_text.size() > 5) return Status::InvalidArgument("invalid port");
  for (char c : port_text) {
    if (c < '0' || c > '9') return Status::InvalidArgument("invalid port");
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return Status::InvalidArgument("invalid port");
  SLUICE_ASSIGN_OR_RETURN(asio::ip::address addr, ParseHost(text.substr(0, colon)));
  return std::make_pair(addr, static_cast<uint16_t>(port));
}

struct ListenerState;

// One TCP connection. Every handler runs on the connection's strand; the object lives as long as
// an operation of it is pending.
class TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
  TcpConnection(tcp::socket socket, ListenerState* owner, uint64_t id);
  ~TcpConnection();
  void Start() { Read(); }
  // Closes the socket from any thread (the pending read then ends).
  void Close() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
  }

 private:
  void Read();
  void OnRead(const boost::system::error_code& ec, size_t n);
  void CloseNow() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    deadline_.cancel();
  }

  tcp::socket socket_;
  asio::steady_timer deadline_;
  ListenerState* owner_;
  uint64_t id_;
  StreamFramer framer_;
  std::unique_ptr<char[]> buf_ = std::make_unique<char[]>(kReadChunk);
};

struct ListenerState {
  ListenerState(asio::io_context& io, const config::Config::SyslogListener& cfg,
                config::Overrides* overrides, PushFn push, Clock* clock,
                const ServerOptions& options)
      : io(io),
        name(fmt::format("{}/{}", cfg.protocol, cfg.listen_address)),
        config(cfg),
        strand(asio::make_strand(io)),
        flush_timer(strand),
        flush_interval(std::chrono::nanoseconds(options.flush_interval_ns)),
        batcher(name, cfg, overrides, std::move(push), clock, options.batch),
        throttle(clock) {}

  asio::io_context& io;
  std::string name;
  config::Config::SyslogListener config;
  Strand strand;  // the acceptor's or the UDP socket's and the flush timer's
  asio::steady_timer flush_timer;
  std::chrono::nanoseconds flush_interval;
  Batcher batcher;
  LogThrottle throttle;
  std::atomic<bool> stopping{false};
  int port = 0;

  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<udp::socket> udp_socket;
  std::unique_ptr<char[]> datagram = std::make_unique<char[]>(kMaxDatagram);
  udp::endpoint peer;

  Mutex mu;
  std::map<uint64_t, std::weak_ptr<TcpConnection>> connections GUARDED_BY(mu);
  uint64_t next_id GUARDED_BY(mu) = 0;

  void Accept();
  void Receive();
  void ArmFlush();
  void Frame(std::string_view frame) {
    if (frame.size() > config.max_message_length) {
      Oversize(frame.size());
    } else {
      batcher.AddFrame(frame);
    }
  }
  void Oversize(size_t bytes) {
    batcher.Discard(write::reason::kLineTooLong, bytes,
                    fmt::format("frame of {} bytes is longer than max_message_length {}", bytes,
                                config.max_message_length));
  }
};

TcpConnection::TcpConnection(tcp::socket socket, ListenerState* owner, uint64_t id)
    : socket_(std::move(socket)),
      deadline_(socket_.get_executor()),
      owner_(owner),
      id_(id),
      framer_(owner->config.max_message_length) {}

TcpConnection::~TcpConnection() {
  MutexLock lock(&owner_->mu);
  owner_->connections.erase(id_);
}

void TcpConnection::Read() {
  deadline_.expires_after(std::chrono::nanoseconds(owner_->config.idle_timeout));
  deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->CloseNow();  // idle (or a sender stalled mid-frame) for idle_timeout
  });
  socket_.async_read_some(asio::buffer(buf_.get(), kReadChunk),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t n) { self->OnRead(ec, n); });
}

void TcpConnection::OnRead(const boost::system::error_code& ec, size_t n) {
  deadline_.cancel();
  auto on_frame = [this](std::string_view f) { owner_->batcher.AddFrame(f); };
  Status st = Status::OK();
  if (n > 0) {
    st = framer_.Feed(std::string_view(buf_.get(), n), on_frame,
                      [this](size_t bytes) { owner_->Oversize(bytes); });
  }
  if (st.ok() && ec) st = framer_.Finish(on_frame);
  if (!st.ok()) {
    owner_->batcher.Discard(kInvalidSyslogReason, 0, st.message() + "; closing the connection");
    CloseNow();
    return;
  }
  if (ec || owner_->stopping) {
    CloseNow();
    return;
  }
  Read();
}

void ListenerState::Accept() {
  acceptor->async_accept(
      asio::make_strand(io), [this](const boost::system::error_code& ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || stopping) return;
        if (!ec) {
          std::shared_ptr<TcpConnection> conn;
          {
            MutexLock lock(&mu);
            if (connections.size() < static_cast<size_t>(config.max_connections)) {
              uint64_t id = next_id++;
              conn = std::make_shared<TcpConnection>(std::move(socket), this, id);
              connections[id] = conn;
            }
          }
          if (conn) {
            conn->Start();
            // Stop() may have listed the connections just before this one was added.
            if (stopping) conn->Close();
          } else {
            uint64_t suppressed = 0;
            if (throttle.Allow(&suppressed)) {
              spdlog::warn(
                  "msg=\"syslog connection refused: max_connections reached\" listener={} "
                  "max_connections={} suppressed={}",
                  name, config.max_connections, suppressed);
            }
            boost::system::error_code ignored;
            socket.close(ignored);
          }
        }
        Accept();
      });
}

void ListenerState::Receive() {
  udp_socket->async_receive_from(asio::buffer(datagram.get(), kMaxDatagram), peer,
                                 [this](const boost::system::error_code& ec, size_t n) {
                                   if (ec == asio::error::operation_aborted || stopping) return;
                                   if (!ec) {
                                     // One message per datagram, or several separated by LF.
                                     std::string_view rest(datagram.get(), n);
                                     while (!rest.empty()) {
                                       size_t lf = rest.find('\n');
                                       std::string_view frame = rest.substr(0, lf);
                                       rest = lf == std::string_view::npos ? std::string_view{}
                                                                           : rest.substr(lf + 1);
                                       if (!frame.empty() && frame != "\r") Frame(frame);
                                     }
                                   }
                                   Receive();
                                 });
}

void ListenerState::ArmFlush() {
  flush_timer.expires_after(flush_interval);
  flush_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping) return;
    batcher.Flush();
    ArmFlush();
  });
}

}  // namespace

Status ValidateListener(const config::Config::SyslogListener& l, size_t index) {
  auto fail = [index](std::string msg) {
    return Status::InvalidArgument(fmt::format("syslog.listeners[{}]: {}", index, msg));
  };
  if (l.protocol != "tcp" && l.protocol != "udp") {
    return fail(fmt::format("protocol \"{}\" is not tcp or udp", l.protocol));
  }
  auto addr = ParseListenAddress(l.listen_address);
  if (!addr.ok()) {
    return fail(
        fmt::format("listen_address \"{}\": {}", l.listen_address, addr.status().message()));
  }
  Status tenant = model::ValidateTenantId(l.tenant);
  if (!tenant.ok()) return fail(fmt::format("tenant \"{}\": {}", l.tenant, tenant.message()));
  for (const auto& [name, value] : l.labels) {
    if (!model::IsValidLabelName(name)) return fail(fmt::format("invalid label name \"{}\"", name));
  }
  for (const auto& f : l.label_fields) {
    if (!IsLabelField(f)) {
      return fail(fmt::format(
          "label_fields: \"{}\" is not one of hostname, app_name, proc_id, msg_id, facility, "
          "severity",
          f));
    }
    if (l.labels.count(f)) {
      return fail(fmt::format("label_fields: \"{}\" is also set in labels", f));
    }
  }
  if (l.max_message_length == 0 || l.max_message_length > kMaxMessageLengthCeiling) {
    return fail("max_message_length must be between 1B and 16MiB");
  }
  if (l.idle_timeout <= 0) return fail("idle_timeout must be positive");
  if (l.max_connections <= 0) return fail("max_connections must be positive");
  return Status::OK();
}

struct Server::Impl {
  std::vector<config::Config::SyslogListener> configs;
  config::Overrides* overrides;
  PushFn push;
  Clock* clock;
  ServerOptions options;

  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::unique_ptr<ListenerState>> listeners;
  std::vector<std::thread> threads;
  bool started = false;
  bool stopped = false;

  Status Bind(ListenerState& l, size_t index);
};

Status Server::Impl::Bind(ListenerState& l, size_t index) {
  auto [addr, port] = *ParseListenAddress(l.config.listen_address);
  boost::system::error_code ec;
  auto fail = [&](std::string_view what) {
    return Status::IOError(fmt::format("syslog.listeners[{}]: cannot {} {} {}: {}", index, what,
                                       l.config.protocol, l.config.listen_address, ec.message()));
  };
  if (l.config.protocol == "tcp") {
    l.acceptor = std::make_unique<tcp::acceptor>(l.strand);
    tcp::endpoint ep(addr, port);
    l.acceptor->open(ep.protocol(), ec);
    if (ec) return fail("open");
    l.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    l.acceptor->bind(ep, ec);
    if (ec) return fail("bind");
    l.acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen on");
    l.port = l.acceptor->local_endpoint().port();
  } else {
    l.udp_socket = std::make_unique<udp::socket>(l.strand);
    udp::endpoint ep(addr, port);
    l.udp_socket->open(ep.protocol(), ec);
    if (ec) return fail("open");
    l.udp_socket->bind(ep, ec);
    if (ec) return fail("bind");
    // A bigger kernel buffer rides out bursts while a batch is being pushed; best effort.
    boost::system::error_code ignored;
    l.udp_socket->set_option(asio::socket_base::receive_buffer_size(4 << 20), ignored);
    l.port = l.udp_socket->local_endpoint().port();
  }
  return Status::OK();
}

Server::Server(std::vector<config::Config::SyslogListener> listeners, config::Overrides* overrides,
               PushFn push, Clock* clock, ServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->configs = std::move(listeners);
  impl_->overrides = overrides;
  impl_->push = std::move(push);
  impl_->clock = clock;
  impl_->options = options;
}

Server::~Server() { Stop(); }

Status Server::Start() {
  auto& d = *impl_;
  for (size_t i = 0; i < d.configs.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(ValidateListener(d.configs[i], i));
  }
  for (size_t i = 0; i < d.configs.size(); ++i) {
    auto l = std::make_unique<ListenerState>(d.io, d.configs[i], d.overrides, d.push, d.clock,
                                             d.options);
    Status st = d.Bind(*l, i);
    if (!st.ok()) {
      d.listeners.clear();  // closes what was bound
      return st;
    }
    d.listeners.push_back(std::move(l));
  }
  d.work.emplace(d.io.get_executor());
  for (auto& l : d.listeners) {
    ListenerState* state = l.get();
    asio::post(state->strand, [state] {
      if (state->acceptor) state->Accept();
      if (state->udp_socket) state->Receive();
      state->ArmFlush();
    });
    spdlog::info("msg=\"serving syslog\" protocol={} address={} port={} tenant={}",
                 state->config.protocol, state->config.listen_address, state->port,
                 state->config.tenant);
  }
  for (int t = 0; t < std::max(1, d.options.threads); ++t) {
    d.threads.emplace_back([&io = d.io] { io.run(); });
  }
  d.started = true;
  return Status::OK();
}

void Server::Stop() {
  auto& d = *impl_;
  if (!d.started || d.stopped) return;
  d.stopped = true;
  for (auto& l : d.listeners) {
    ListenerState* state = l.get();
    state->stopping = true;
    asio::post(state->strand, [state] {
      boost::system::error_code ignored;
      if (state->acceptor) state->acceptor->close(ignored);
      if (state->udp_socket) state->udp_socket->close(ignored);
      state->flush_timer.cancel();
    });
    std::vector<std::shared_ptr<TcpConnection>> open;
    {
      MutexLock lock(&state->mu);
      for (auto& [id, weak] : state->connections) {
        if (auto conn = weak.lock()) open.push_back(std::move(conn));
      }
    }
    for (auto& conn : open) conn->Close();
  }
  // With every socket and timer closed, run() returns once their handlers have run.
  d.work.reset();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
  for (auto& l : d.listeners) l->batcher.Flush();
  spdlog::info("msg=\"syslog listeners stopped\"");
}

int Server::port(size_t i) const { return impl_->listeners.at(i)->port; }

}  // namespace sluice::syslog
