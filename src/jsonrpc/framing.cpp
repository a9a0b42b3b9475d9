#include "jsonrpc/framing.hpp"

#include <poll.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ripvec::jsonrpc {

namespace {

constexpr size_t kBufSize = 64 * 1024;

bool is_token_char(char c) {
  // RFC 7230 tchar: header names are tokens; anything else means we are not looking at a header.
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Where "Content-Length:" (any case) starts in `line`, or npos.
size_t find_content_length(std::string_view line) {
  constexpr std::string_view kName = "content-length:";
  for (size_t i = 0; i + kName.size() <= line.size(); ++i)
    if (iequals(line.substr(i, kName.size()), kName)) return i;
  return std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

ssize_t FdSource::read(char* buf, size_t n) {
  for (;;) {
    if (interrupted_) return 0;
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);
    if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
    ssize_t r = ::read(fd_, buf, n);
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

bool FdSink::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t w = ::write(fd_, bytes.data(), bytes.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      err_ = errno;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

std::string FdSink::error() const {
  return err_ != 0 ? std::string(std::strerror(err_)) : std::string();
}

bool FdSink::peer_gone() {
  pollfd p{fd_, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

ssize_t StringSource::read(char* buf, size_t n) {
  size_t k = std::min(n, data_.size() - pos_);
  std::memcpy(buf, data_.data() + pos_, k);
  pos_ += k;
  return static_cast<ssize_t>(k);
}

const char* frame_status_name(FrameStatus s) {
  switch (s) {
    case FrameStatus::Ok:
      return "ok";
    case FrameStatus::Eof:
      return "end of stream";
    case FrameStatus::TooLarge:
      return "message too large";
    case FrameStatus::BadHeader:
      return "bad header";
    case FrameStatus::Truncated:
      return "truncated message";
    case FrameStatus::IoError:
      return "read error";
  }
  return "?";
}

FrameReader::FrameReader(ByteSource& src, Framing framing, Limits limits)
    : src_(src), framing_(framing), limits_(limits), buf_(new char[kBufSize]) {}

bool FrameReader::fill() {
  if (beg_ < end_) return true;
  if (ended_ || failed_) return false;
  ssize_t r = src_.read(buf_.get(), kBufSize);
  if (r <= 0) {
    (r == 0 ? ended_ : failed_) = true;
    return false;
  }
  beg_ = 0;
  end_ = static_cast<size_t>(r);
  return true;
}

FrameStatus FrameReader::next(std::string* body, std::string* detail) {
  body->clear();
  if (detail) detail->clear();
  if (done_) return FrameStatus::Eof;
  FrameStatus s =
      framing_ == Framing::Newline ? next_line(body, detail) : next_content_length(body, detail);
  if (s == FrameStatus::Eof || s == FrameStatus::Truncated || s == FrameStatus::IoError)
    done_ = true;
  return s;
}

FrameStatus FrameReader::next_line(std::string* body, std::string* detail) {
  for (;;) {  // loops over blank lines
    body->clear();
    bool any = false, too_large = false;
    for (;;) {
      if (!fill()) {
        if (failed_) return FrameStatus::IoError;
        if (too_large) {
          if (detail) *detail = "line longer than the message size limit";
          return FrameStatus::TooLarge;
        }
        // A last message without its newline is still a whole JSON text (or fails to parse).
        if (!any) return FrameStatus::Eof;
        goto have_line;
      }
      any = true;
      const char* b = buf_.get() + beg_;
      const char* nl = static_cast<const char*>(std::memchr(b, '\n', end_ - beg_));
      size_t take = nl ? static_cast<size_t>(nl - b) : end_ - beg_;
      if (!too_large) {
        if (body->size() + take > limits_.max_message_bytes) {
          too_large = true;
          body->clear();
          body->shrink_to_fit();
        } else {
          body->append(b, take);
        }
      }
      beg_ += take;
      if (nl) {
        ++beg_;  // the newline
        if (too_large) {
          if (detail) *detail = "line longer than the message size limit";
          return FrameStatus::TooLarge;
        }
        break;
      }
    }
  have_line:
    if (!body->empty() && body->back() == '\r') body->pop_back();
    bool blank = std::all_of(body->begin(), body->end(),
                             [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
    if (!blank) return FrameStatus::Ok;
    if (ended_) return FrameStatus::Eof;
  }
}

int FrameReader::read_header_line(std::string* line) {
  if (has_pending_) {
    has_pending_ = false;
    *line = std::move(pending_line_);
    return 1;
  }
  line->clear();
  bool any = false, too_long = false;
  for (;;) {
    if (!fill()) return any ? -1 : 0;
    any = true;
    char c = buf_[beg_++];
    if (c == '\n') break;
    if (too_long) continue;
    if (line->size() >= limits_.max_header_bytes) {
      too_long = true;
      continue;
    }
    line->push_back(c);
  }
  if (too_long) return -2;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return 1;
}

FrameStatus FrameReader::next_content_length(std::string* body, std::string* detail) {
  std::string line;
  // junk: a line of no header was seen (a stray log line, the tail of a body that was longer
  // than its Content-Length said): the block is broken, but a "Content-Length:" line after it
  // starts the next frame, and junk after a valid length leaves that frame's body to skip.
  bool have_length = false, bad = false, first = true, junk = false;
  uint64_t length = 0;
  size_t headers = 0;
  std::string why;
  for (;;) {
    int r = read_header_line(&line);
    if (r == 0) {
      if (failed_) return FrameStatus::IoError;
      if (first) return FrameStatus::Eof;
      if (detail) *detail = "end of stream inside the headers";
      return FrameStatus::Truncated;
    }
    if (r == -1) {
      if (failed_) return FrameStatus::IoError;
      if (detail) *detail = "end of stream inside a header line";
      return FrameStatus::Truncated;
    }
    if (first && r == 1 && line.empty()) continue;  // stray blank lines between frames
    first = false;
    if (r == -2) {
      bad = junk = true;  // an over-long stray line is junk like any other (review 2026-12-07)
      why = "header line longer than " + std::to_string(limits_.max_header_bytes) + " bytes";
      continue;
    }
    if (line.empty()) break;  // end of the header block
    size_t colon = line.find(':');
    std::string_view name =
        colon == std::string::npos ? std::string_view{} : std::string_view(line).substr(0, colon);
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
      // Resynchronising after a frame whose length was unknown ("Content-Length: +84") or too
      // short: the rest of its body runs into the next frame's first header line
      // ('{...}Content-Length: 81'). The next frame starts at that header; what came before
      // belongs to the broken frame (already answered) and is dropped. Without this, every
      // later frame was eaten the same way and the session was lost.
      if (const size_t at = find_content_length(line); at != std::string::npos && at > 0) {
        line.erase(0, at);
        bad = have_length = junk = false;
        why.clear();
        headers = 1;
        colon = line.find(':');
        name = std::string_view(line).substr(0, colon);
      } else {
        bad = junk = true;
        if (why.empty()) why = "not a header line: '" + line.substr(0, 40) + "'";
        continue;
      }
    }
    std::string_view value = trim(std::string_view(line).substr(colon + 1));
    if (iequals(name, "Content-Length") && junk && !have_length) {
      // Lines of no header, then a frame's first line: the junk is reported on its own (this
      // call) and the frame read by the next. Before, the frame's header joined the broken
      // block, its body was read as header lines, and the frame was lost: a stray line before
      // `initialize` left the client waiting forever (hostile probe 2026-12-07).
      pending_line_ = std::move(line);
      has_pending_ = true;
      if (detail) *detail = why;
      return FrameStatus::BadHeader;
    }
    // Only header lines count: 32 lines of a stray banner before a frame swallowed its
    // Content-Length line as "too many header lines" (review 2026-12-07).
    if (++headers > limits_.max_headers) {
      bad = true;
      why = "too many header lines";
      continue;
    }
    if (iequals(name, "Content-Length")) {
      bool digits =
          !value.empty() && value.size() <= 19 &&
          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || have_length) {
        bad = true;
        if (why.empty())
          why = have_length ? "Content-Length given twice"
                            : "Content-Length is not a decimal number: '" +
                                  std::string(value.substr(0, 40)) + "'";
        continue;
      }
      length = std::stoull(std::string(value));
      have_length = true;
    }
    // Other headers (Content-Type) are accepted and ignored: the body is always UTF-8 JSON.
  }
  if (!have_length && !bad) {
    bad = true;
    why = "no Content-Length header";
  }
  // A valid length with junk among its headers: the frame is refused, and its body skipped so that
  // it is not read as the next frame's header lines (hostile probe 2026-12-07).
  const bool skip_body = bad && junk && have_length;
  if (bad && !skip_body) {
    if (detail) *detail = why;
    return FrameStatus::BadHeader;
  }
  bool too_large = skip_body || length > limits_.max_message_bytes;
  if (!too_large) body->reserve(static_cast<size_t>(length));
  uint64_t left = length;
  while (left > 0) {
    if (!fill()) {
      if (failed_) return FrameStatus::IoError;
      if (detail)
        *detail = "end of stream inside a body (" + std::to_string(left) + " of " +
                  std::to_string(length) + " bytes missing)";
      body->clear();
      return FrameStatus::Truncated;
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(left, end_ - beg_));
    if (!too_large) body->append(buf_.get() + beg_, take);
    beg_ += take;
    left -= take;
  }
  if (skip_body) {
    if (detail) *detail = why;
    return FrameStatus::BadHeader;
  }
  if (too_large) {
    if (detail)
      *detail = "Content-Length " + std::to_string(length) + " exceeds the limit of " +
                std::to_string(limits_.max_message_bytes) + " bytes";
    return FrameStatus::TooLarge;
  }
  return FrameStatus::Ok;
}

bool FrameWriter::write(std::string_view body) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ok_) return false;
  std::string frame;
  if (framing_ == Framing::Newline) {
    frame.reserve(body.size() + 1);
    frame.append(body);
    frame.push_back('\n');
  } else {
    frame = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    frame.append(body);
  }
  ok_ = sink_.write_all(frame);
  return ok_;
}

bool FrameWriter::ok() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ok_;
}

std::string FrameWriter::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ok_ ? std::string() : sink_.error();
}

}  // namespace ripvec::jsonrpc
