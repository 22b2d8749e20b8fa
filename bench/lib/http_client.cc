#include "lib/http_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sluice::bench {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

HttpConnection::HttpConnection(std::string host, int port, int timeout_ms)
    : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}

HttpConnection::~HttpConnection() { Disconnect(); }

void HttpConnection::Disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

Status HttpConnection::Connect() {
  Disconnect();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(port_);
  if (int rc = getaddrinfo(host_.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Status::IOError(fmt::format("resolve {}: {}", host_, gai_strerror(rc)));
  }
  Status st = Status::IOError(fmt::format("connect {}:{} failed", host_, port_));
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd_ = fd;
      st = Status::OK();
      break;
    }
    st = Status::IOError(fmt::format("connect {}:{}: {}", host_, port_, std::strerror(errno)));
    ::close(fd);
  }
  freeaddrinfo(res);
  return st;
}

bool HttpConnection::Fill() {
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, timeout_ms_);
  if (rc <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf_.append(tmp, static_cast<size_t>(n));
  return true;
}

Result<HttpResponse> HttpConnection::Do(std::string_view method, std::string_view target,
                                        const HttpHeaders& headers, std::string_view body) {
  std::string head = fmt::format("{} {} HTTP/1.1\r\nHost: {}:{}\r\n", method, target, host_, port_);
  for (const auto& [k, v] : headers) fmt::format_to(std::back_inserter(head), "{}: {}\r\n", k, v);
  if (!body.empty() || method == "POST") {
    fmt::format_to(std::back_inserter(head), "Content-Length: {}\r\n", body.size());
  }
  head.append("\r\n");
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = fd_ >= 0;
    if (!reused) SLUICE_RETURN_IF_ERROR(Connect());
    bool nothing_received = false;
    auto r = DoOnce(head, body, &nothing_received);
    if (r.ok()) return r;
    Disconnect();
    // Only a kept-alive connection the server closed meanwhile is worth a retry.
    if (!(reused && nothing_received)) return r;
  }
  return Status::IOError("connection closed");
}

Result<HttpResponse> HttpConnection::DoOnce(std::string_view head, std::string_view body,
                                            bool* nothing_received) {
  *nothing_received = true;
  iovec iov[2] = {{const_cast<char*>(head.data()), head.size()},
                  {const_cast<char*>(body.data()), body.size()}};
  int iovcnt = body.empty() ? 1 : 2;
  iovec* v = iov;
  while (iovcnt > 0) {
    ssize_t n = ::writev(fd_, v, iovcnt);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(fmt::format("send: {}", std::strerror(errno)));
    }
    auto left = static_cast<size_t>(n);
    while (iovcnt > 0 && left >= v->iov_len) {
      left -= v->iov_len;
      ++v;
      --iovcnt;
    }
    if (iovcnt > 0) {
      v->iov_base = static_cast<char*>(v->iov_base) + left;
      v->iov_len -= left;
    }
  }

  size_t header_end;
  while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill()) return Status::IOError("connection closed or timed out before the response");
    *nothing_received = false;
  }
  *nothing_received = false;
  std::string_view headers(buf_.data(), header_end);
  HttpResponse resp;
  // "HTTP/1.1 204 No Content"
  size_t sp = headers.find(' ');
  if (sp == std::string_view::npos || headers.size() < sp + 4)
    return Status::IOError("bad status line");
  resp.status = std::atoi(std::string(headers.substr(sp + 1, 3)).c_str());
  int64_t content_length = -1;
  bool chunked = false, close = false;
  size_t pos = headers.find("\r\n");
  while (pos != std::string_view::npos && pos < headers.size()) {
    size_t next = headers.find("\r\n", pos + 2);
    std::string_view line = headers.substr(
        pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = Trim(line.substr(0, colon));
      std::string_view value = Trim(line.substr(colon + 1));
      if (IEquals(name, "content-length")) content_length = std::atoll(std::string(value).c_str());
      if (IEquals(name, "transfer-encoding") && IEquals(value, "chunked")) chunked = true;
      if (IEquals(name, "connection") && IEquals(value, "close")) close = true;
    }
    pos = next;
  }
  buf_.erase(0, header_end + 4);

  if (chunked) {
    while (true) {
      size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos) {
        if (!Fill()) return Status::IOError("truncated chunked body");
      }
      size_t len = std::strtoul(buf_.substr(0, eol).c_str(), nullptr, 16);
      while (buf_.size() < eol + 2 + len + 2) {
        if (!Fill()) return Status::IOError("truncated chunk");
      }
      resp.body.append(buf_, eol + 2, len);
      buf_.erase(0, eol + 2 + len + 2);
      if (len == 0) break;  // (trailers are not used by the servers we talk to)
    }
  } else if (content_length >= 0) {
    while (buf_.size() < static_cast<size_t>(content_length)) {
      if (!Fill()) return Status::IOError("truncated body");
    }
    resp.body = buf_.substr(0, static_cast<size_t>(content_length));
    buf_.erase(0, static_cast<size_t>(content_length));
  } else if (resp.status != 204 && resp.status != 304) {
    while (Fill()) {
    }
    resp.body = std::move(buf_);
    buf_.clear();
    close = true;
  }
  if (close) Disconnect();
  return resp;
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      fmt::format_to(std::back_inserter(out), "%{:02X}", c);
    }
  }
  return out;
}

}  // namespace sluice::bench
