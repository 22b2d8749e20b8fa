#include "http/websocket_connection.h"

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <deque>
#include <exception>
#include <thread>
#include <utility>

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;

// One upgraded connection. Socket work runs on the connection's strand (the executor of its
// stream); the handler thread only touches state under mu_ and posts to the strand.
class WebSocketConnection final : public WebSocketSession,
                                  public std::enable_shared_from_this<WebSocketConnection> {
 public:
  // Frames queued but not yet written past this mean the client does not keep up: SendText
  // fails and the handler stops.
  static constexpr size_t kMaxQueuedBytes = 16 << 20;

  WebSocketConnection(beast::tcp_stream stream, std::shared_ptr<WebSocketRegistry> registry)
      : ws_(std::move(stream)), registry_(std::move(registry)) {}

  void Start(bhttp::request<bhttp::string_body> upgrade, WebSocketRun run, std::string route,
             WebSocketDoneFn on_done) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    auto req = std::make_shared<bhttp::request<bhttp::string_body>>(std::move(upgrade));
    ws_.async_accept(
        *req, [self = shared_from_this(), req, run = std::move(run), route = std::move(route),
               on_done = std::move(on_done)](beast::error_code ec) mutable {
          if (ec) return self->MarkClosed();
          self->ReadLoop();
          self->StartHandler(std::move(run), std::move(route), std::move(on_done));
        });
  }

  bool SendText(std::string text) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || close_requested_) return false;
    if (queued_bytes_ + text.size() > kMaxQueuedBytes) return false;
    queued_bytes_ += text.size();
    queue_.push_back(std::move(text));
    if (!writing_) {
      writing_ = true;
      asio::post(ws_.get_executor(), [self = shared_from_this()] { self->WriteNext(); });
    }
    return true;
  }

  bool WaitClosed(int64_t timeout_ns) override {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::nanoseconds(timeout_ns), [this] { return closed_; });
  }

  void Close(uint16_t code, std::string reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || close_requested_) return;
    close_requested_ = true;
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    if (!writing_) {
      writing_ = true;
      asio::post(ws_.get_executor(), [self = shared_from_this()] { self->WriteNext(); });
    }
  }

  // Server::Stop(): ends the connection without a handshake; the handler sees it closed.
  void Abort() {
    MarkClosed();
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().close(ec);
    });
  }

 private:
  void ReadLoop() {
    // Client frames are read and dropped; the read fails when the client closes.
    ws_.async_read(read_buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->MarkClosed();
      self->read_buffer_.consume(self->read_buffer_.size());
      self->ReadLoop();
    });
  }

  // On the strand: writes the next queued frame, or the close frame once the queue is empty.
  void WriteNext() {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) {
      writing_ = false;
      return;
    }
    if (queue_.empty()) {
      if (!close_requested_) {
        writing_ = false;
        return;
      }
      websocket::close_reason reason = close_reason_;
      lock.unlock();
      ws_.async_close(reason,
                      [self = shared_from_this()](beast::error_code) { self->MarkClosed(); });
      return;
    }
    auto frame = std::make_shared<std::string>(std::move(queue_.front()));
    queue_.pop_front();
    lock.unlock();
    ws_.text(true);
    ws_.async_write(asio::buffer(*frame),
                    [self = shared_from_this(), frame](beast::error_code ec, size_t) {
                      {
                        std::lock_guard<std::mutex> lock(self->mu_);
                        self->queued_bytes_ -= frame->size();
                      }
                      if (ec) return self->MarkClosed();
                      self->WriteNext();
                    });
  }

  void MarkClosed() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

  void StartHandler(WebSocketRun run, std::string route, WebSocketDoneFn on_done) {
    if (!registry_->Add(shared_from_this())) return Abort();
    std::thread([self = shared_from_this(), run = std::move(run), route = std::move(route),
                 on_done = std::move(on_done)] {
      auto start = std::chrono::steady_clock::now();
      try {
        run(*self);
      } catch (const std::exception& e) {
        spdlog::error("msg=\"websocket handler threw\" route={} err=\"{}\"", route, e.what());
      }
      self->Close(1000, "");
      on_done(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      self->registry_->Remove(self);
    }).detach();
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer read_buffer_;  // strand only
  std::shared_ptr<WebSocketRegistry> registry_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;         // GUARDED_BY(mu_)
  size_t queued_bytes_ = 0;               // GUARDED_BY(mu_)
  bool writing_ = false;                  // GUARDED_BY(mu_): a WriteNext chain is running
  bool close_requested_ = false;          // GUARDED_BY(mu_)
  websocket::close_reason close_reason_;  // GUARDED_BY(mu_)
  bool closed_ = false;                   // GUARDED_BY(mu_)
};

void WebSocketRegistry::AbortAllAndWait() {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  for (const auto& c : active_) c->Abort();
  cv_.wait(lock, [this] { return active_.empty(); });
}

bool WebSocketRegistry::Add(std::shared_ptr<WebSocketConnection> connection) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  active_.insert(std::move(connection));
  return true;
}

void WebSocketRegistry::Remove(const std::shared_ptr<WebSocketConnection>& connection) {
  std::lock_guard<std::mutex> lock(mu_);
  active_.erase(connection);
  cv_.notify_all();
}

// The error of an upgrade whose handler threw instead of answering.
constexpr std::string_view kHandlerThrewMessage = "websocket handler threw";

std::optional<Response> UpgradeToWebSocket(const WebSocketHandler& handler, Request& request,
                                           const std::string& route, beast::tcp_stream& stream,
                                           bhttp::request_parser<bhttp::string_body>& parser,
                                           std::shared_ptr<WebSocketRegistry> registry,
                                           WebSocketDoneFn on_done) {
  Result<WebSocketRun> run = Status::Internal(std::string(kHandlerThrewMessage));
  try {
    run = handler(request);
  } catch (const std::exception& e) {
    spdlog::error("msg=\"handler threw\" route={} err=\"{}\"", route, e.what());
  }
  if (!run.ok()) return Response::Error(run.status());
  std::make_shared<WebSocketConnection>(std::move(stream), std::move(registry))
      ->Start(parser.release(), std::move(*run), route, std::move(on_done));
  return std::nullopt;
}

}  // namespace sluice::http
