#include "http/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

#include "http/websocket_connection.h"
#include "metrics/metrics.h"
#include "tracing/tracing.h"

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string Request::Param(std::string_view name, std::string_view fallback) const {
  auto it = params.find(std::string(name));
  return it == params.end() ? std::string(fallback) : it->second;
}

std::vector<std::string> Request::ParamAll(std::string_view name) const {
  std::vector<std::string> out;
  auto [lo, hi] = params.equal_range(std::string(name));
  for (auto it = lo; it != hi; ++it) out.push_back(it->second);
  return out;
}

std::string Request::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

Response Response::Json(std::string body, int status) {
  return Response{status, "application/json; charset=utf-8", std::move(body), {}};
}
Response Response::Text(std::string body, int status) {
  return Response{status, "text/plain; charset=utf-8", std::move(body), {}};
}
Response Response::Error(const Status& status) {
  Response r = Text(status.message() + "\n", HttpStatusFor(status.code()));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

std::string RouteName(std::string_view pattern) {
  std::string out;
  bool pending_sep = false;
  for (char c : pattern) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) {
      pending_sep = !out.empty();
      continue;
    }
    if (pending_sep) out += '_';
    pending_sep = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out.empty() ? "root" : out;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size()) {
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) {
        out += c;
        continue;
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

void ParseQuery(std::string_view query, std::multimap<std::string, std::string>* params) {
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(start, amp - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) {
        params->emplace(UrlDecode(pair), "");
      } else {
        params->emplace(UrlDecode(pair.substr(0, eq)), UrlDecode(pair.substr(eq + 1)));
      }
    }
    start = amp + 1;
  }
}

}  // namespace

void Router::Handle(std::vector<std::string> methods, std::string pattern, Handler handler) {
  routes_.push_back(Route{std::move(methods), SplitPath(pattern), RouteName(pattern),
                          std::move(handler), nullptr});
}

void Router::HandleWebSocket(std::string pattern, WebSocketHandler handler) {
  Route route{{"GET"}, SplitPath(pattern), RouteName(pattern), nullptr, std::move(handler)};
  routes_.push_back(std::move(route));
}

const WebSocketHandler* Router::MatchWebSocket(Request& request, std::string* route) const {
  bool path_matched = false;
  const Route* r = Match(request, &path_matched);
  if (r == nullptr || !r->ws_handler) return nullptr;
  *route = r->name;
  return &r->ws_handler;
}

// What gorilla/websocket answers a plain request to an upgrade-only route, and what Loki's
// router answers a path or a method it does not serve.
constexpr std::string_view kNotWebSocketMessage =
    "Bad Request\nwebsocket: the client is not using the websocket protocol: 'upgrade' token not "
    "found in 'Connection' header\n";
constexpr std::string_view kMethodNotAllowedMessage = "method not allowed\n";
constexpr std::string_view kNotFoundMessage = "404 page not found\n";

Response Router::Dispatch(Request& request, std::string* route) const {
  bool path_matched = false;
  const Route* r = Match(request, &path_matched);
  if (r != nullptr) {
    *route = r->name;
    if (r->ws_handler) return Response::Text(std::string(kNotWebSocketMessage), 400);
    return r->handler(request);
  }
  *route = path_matched ? "other" : "notfound";
  if (path_matched) return Response::Text(std::string(kMethodNotAllowedMessage), 405);
  return Response::Text(std::string(kNotFoundMessage), 404);
}

const Router::Route* Router::Match(Request& request, bool* path_matched) const {
  auto segments = SplitPath(request.path);
  *path_matched = false;
  for (const auto& r : routes_) {
    if (r.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> vars;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const auto& want = r.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        vars[want.substr(1, want.size() - 2)] = UrlDecode(segments[i]);
      } else if (want != segments[i]) {
        match = false;
      }
    }
    if (!match) continue;
    *path_matched = true;
    if (std::find(r.methods.begin(), r.methods.end(), request.method) == r.methods.end()) continue;
    request.path_vars = std::move(vars);
    return &r;
  }
  return nullptr;
}

namespace {

metrics::Family<metrics::Histogram>* RequestDuration() {
  static auto* family = metrics::DefaultRegistry().NewHistogram(
      "loki_request_duration_seconds", "Time (in seconds) spent serving HTTP requests.",
      {"method", "route", "status_code", "ws"},
      {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 25, 50, 100});
  return family;
}

// One line per request, as Loki's (dskit's) request logging: server errors at warn, the rest
// at debug; with the trace id when the request is traced, so a log line leads to its trace.
void LogRequest(const Request& req, int status, double secs, const tracing::SpanContext& trace) {
  const auto level = status >= 500 ? spdlog::level::warn : spdlog::level::debug;
  if (!spdlog::should_log(level)) return;
  std::string tenant = req.Header("x-scope-orgid");
  spdlog::log(level, "msg=\"request\" method={} path={} status={} duration={:.3f}ms{}{}{}{}",
              req.method, req.path, status, secs * 1e3, tenant.empty() ? "" : " org_id=", tenant,
              trace.valid() ? " traceID=" : "", trace.valid() ? trace.TraceIdHex() : "");
}

// What a connection answers a request it cannot read, or one whose handler threw.
constexpr std::string_view kBodyTooLargeFormat = "request body too large: limit {} bytes\n";
constexpr std::string_view kHeadersTooLargeMessage = "request headers too large\n";
constexpr std::string_view kMalformedRequestFormat = "malformed HTTP request: {}\n";
constexpr std::string_view kInternalErrorMessage = "internal error\n";

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Router* router, const ServerOptions* options,
          std::shared_ptr<WebSocketRegistry> ws_registry)
      : stream_(std::move(socket)),
        read_deadline_(stream_.get_executor()),
        router_(router),
        options_(options),
        ws_registry_(std::move(ws_registry)) {}

  void Run() { ReadRequest(); }

 private:
  void ReadRequest() {
    parser_.emplace();
    // Read into the connection's previous body buffer: an agent's pushes are alike in size,
    // so after the first one the body neither regrows nor touches fresh pages.
    spare_body_.clear();
    parser_->get().body() = std::move(spare_body_);
    parser_->body_limit(options_->max_body_bytes);
    parser_->header_limit(1 << 20);
    // One deadline for the whole request instead of the stream's own timeout: that one arms and
    // cancels a timer around every read, and each is a timerfd_settime(2) system call - about
    // 10% of the CPU of taking a large push body in 64 KiB reads.
    stream_.expires_never();
    reading_ = true;
    read_deadline_.expires_after(std::chrono::nanoseconds(options_->read_timeout_ns));
    read_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->reading_) return;
      beast::error_code ignored;
      self->stream_.socket().close(ignored);  // the pending read ends with operation_aborted
    });
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    reading_ = false;
    read_deadline_.cancel();
    if (ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
        ec == beast::error::timeout || ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      return WriteError(413, fmt::format(kBodyTooLargeFormat, options_->max_body_bytes));
    }
    if (ec == bhttp::error::header_limit) {
      return WriteError(431, std::string(kHeadersTooLargeMessage));
    }
    if (ec) return WriteError(400, fmt::format(kMalformedRequestFormat, ec.message()));

    auto start = std::chrono::steady_clock::now();
    auto& msg = parser_->get();
    Request req;
    req.method = std::string(msg.method_string());
    std::string_view target(msg.target().data(), msg.target().size());
    size_t q = target.find('?');
    req.path = UrlDecode(target.substr(0, q));
    if (q != std::string_view::npos) ParseQuery(target.substr(q + 1), &req.params);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      req.headers[name] = std::string(field.value());
    }
    req.body = std::move(msg.body());
    if (req.method == "POST" &&
        req.Header("content-type").rfind("application/x-www-form-urlencoded", 0) == 0) {
      ParseQuery(req.body, &req.params);
    }
    keep_alive_ = msg.keep_alive();

    std::string route = "other";
    Response resp;
    if (beast::websocket::is_upgrade(msg)) {
      if (const WebSocketHandler* ws = router_->MatchWebSocket(req, &route)) {
        auto on_done = [method = req.method, route](double secs) {
          // The upgrade answered 101, but Loki's (dskit's) instrumentation never sees it written
          // and records 200 for websocket requests.
          RequestDuration()->WithLabels({method, route, "200", "true"})->Observe(secs);
        };
        std::optional<Response> refused =
            UpgradeToWebSocket(*ws, req, route, stream_, *parser_, ws_registry_, on_done);
        if (!refused) return;
        resp = std::move(*refused);
        double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        RequestDuration()
            ->WithLabels({req.method, route, std::to_string(resp.status), "true"})
            ->Observe(secs);
        keep_alive_ = false;
        return Write(std::move(resp));
      }
    }
    // The request's span, named by its method and path, active while the handler runs.
    tracing::Span span;
    if (tracing::Enabled()) {
      std::optional<tracing::SpanContext> caller;
      if (auto it = req.headers.find("traceparent"); it != req.headers.end()) {
        caller = tracing::ParseTraceparent(it->second);
      }
      span = tracing::Span::Server(req.method + " " + req.path, caller);
    }
    try {
      tracing::ScopedActive active(span);
      resp = router_->Dispatch(req, &route);
    } catch (const std::exception& e) {
      // Handlers return Status for expected errors; an exception here is a bug, but one
      // request's bug must not take the server down.
      spdlog::error("msg=\"handler threw\" route={} err=\"{}\"", route, e.what());
      resp = Response::Text(std::string(kInternalErrorMessage), 500);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    RequestDuration()
        ->WithLabels({req.method, route, std::to_string(resp.status), "false"})
        ->Observe(secs);
    if (span.recording()) {
      span.SetAttribute("http.request.method", req.method);
      span.SetAttribute("http.route", route);
      span.SetAttribute("url.path", req.path);
      span.SetAttribute("http.response.status_code", resp.status);
      if (std::string tenant = req.Header("x-scope-orgid"); !tenant.empty()) {
        span.SetAttribute("tenant", tenant);
      }
      if (resp.status >= 500) span.SetError(resp.body.substr(0, 256));
    }
    LogRequest(req, resp.status, secs, span.context());
    span.End();
    if (req.body.capacity() <= kMaxSpareBodyBytes) spare_body_ = std::move(req.body);
    Write(std::move(resp));
  }

  void WriteError(int status, std::string body) {
    keep_alive_ = false;
    Write(Response::Text(std::move(body), status));
  }

  void Write(Response resp) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(resp.status));
    if (!resp.content_type.empty()) res->set(bhttp::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers) res->set(k, v);
    res->body() = std::move(resp.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(60));
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, size_t) {
                         if (ec || !self->keep_alive_) return self->Close();
                         self->ReadRequest();
                       });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  asio::steady_timer read_deadline_;  // runs on stream_'s executor, as every handler here
  bool reading_ = false;              // a request is being read (the deadline applies)
  // Kept between requests up to this capacity; a rare huge body is freed with its request.
  static constexpr size_t kMaxSpareBodyBytes = 8 << 20;

  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string spare_body_;
  const Router* router_;
  const ServerOptions* options_;
  std::shared_ptr<WebSocketRegistry> ws_registry_;
  bool keep_alive_ = false;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  const Router* router;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  std::shared_ptr<WebSocketRegistry> ws_registry = std::make_shared<WebSocketRegistry>();

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), router, &options, ws_registry)->Run();
      }
      Accept();
    });
  }
};

Server::Server(ServerOptions options, const Router* router) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->router = router;
}

Server::~Server() { Stop(); }

Status Server::Start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.address, ec);
  if (ec) return Status::InvalidArgument("invalid listen address " + impl_->options.address);
  tcp::endpoint endpoint(address, static_cast<unsigned short>(impl_->options.port));
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + impl_->options.address + ":" +
                           std::to_string(impl_->options.port) + ": " + ec.message());
  }
  bound_port_ = impl_->acceptor.local_endpoint().port();
  impl_->Accept();
  for (int i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
  return Status::OK();
}

void Server::Stop() {
  if (!impl_ || impl_->threads.empty()) return;
  asio::post(impl_->io, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  // Websocket handlers run on their own threads: end their connections and wait for them
  // while the io threads still run.
  impl_->ws_registry->AbortAllAndWait();
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace sluice::http
