// Message framing for JSON-RPC over byte streams (internal to the protocol servers):
//  * Newline: one JSON text per line, as MCP's stdio transport specifies (a message never
//    contains a raw newline; empty lines are skipped; a trailing '\r' is dropped).
//  * ContentLength: LSP's base protocol, "Content-Length: N\r\n" [other headers] "\r\n" then N
//    bytes of body.
// Both are bounded: a frame larger than Limits::max_message_bytes is skipped without being
// buffered (reported as TooLarge), header lines are capped at max_header_bytes, and no read
// ever blocks on anything but the underlying source. Nothing here throws on bad input.
//
// Thread safety: a FrameReader is used by one thread. FrameWriter::write may be called from
// several threads at once (it holds a mutex per frame).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace ripvec::jsonrpc {

enum class Framing { Newline, ContentLength };

struct Limits {
  size_t max_message_bytes = 64u << 20;  // one message (a line or a body)
  size_t max_header_bytes = 8u << 10;    // one header line (ContentLength framing)
  size_t max_headers = 32;               // header lines per frame
  size_t max_depth = 128;                // nesting of arrays/objects in a message
  size_t max_values = size_t(1) << 20;   // values (elements, members, containers) in a message
};

// Where bytes come from. read() returns the bytes read (> 0), 0 at end of stream, < 0 on error.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual ssize_t read(char* buf, size_t n) = 0;
  // Makes a read() that waits for input, and every later one, return 0 (end of stream) soon
  // (FdSource: within 100 ms). Thread-safe. Default: nothing (a source that never waits).
  virtual void interrupt() {}
};

// Where bytes go. write_all() returns false when the peer is gone or the write failed.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual bool write_all(std::string_view bytes) = 0;
  // True when the reader is known to be gone without writing (a pipe whose read end closed):
  // lets a server stop work nobody will read. Default: never known.
  virtual bool peer_gone() { return false; }
  // Why the last write_all failed, in words ("" when unknown).
  virtual std::string error() const { return {}; }
};

class FdSource final : public ByteSource {
 public:
  explicit FdSource(int fd) : fd_(fd) {}
  ssize_t read(char* buf, size_t n) override;  // retries EINTR; waits in poll() slices
  void interrupt() override { interrupted_ = true; }

 private:
  int fd_;
  std::atomic<bool> interrupted_{false};
};

class FdSink final : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  bool write_all(std::string_view bytes) override;  // retries EINTR and short writes
  bool peer_gone() override;                        // poll(): POLLERR or POLLHUP on fd
  std::string error() const override;               // strerror of the failed write

 private:
  int fd_;
  int err_ = 0;
};

class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  ssize_t read(char* buf, size_t n) override;

 private:
  std::string data_;
  size_t pos_ = 0;
};

class StringSink final : public ByteSink {
 public:
  bool write_all(std::string_view bytes) override {
    data_.append(bytes);
    return true;
  }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

enum class FrameStatus {
  Ok,         // *body holds one message's bytes
  Eof,        // the stream ended cleanly between frames
  TooLarge,   // a message over max_message_bytes was skipped; the stream stays usable
  BadHeader,  // ContentLength framing: a malformed or missing header; the frame was skipped
  Truncated,  // the stream ended inside a frame
  IoError,    // the source reported an error
};
const char* frame_status_name(FrameStatus s);

class FrameReader {
 public:
  FrameReader(ByteSource& src, Framing framing, Limits limits = {});
  // Reads the next frame. After Eof, Truncated or IoError every call returns Eof.
  // *detail receives a short reason for the non-Ok statuses (may be null).
  FrameStatus next(std::string* body, std::string* detail = nullptr);

 private:
  // Buffered single-byte access; false at end of stream or error (sets ended_/failed_).
  bool fill();
  FrameStatus next_line(std::string* body, std::string* detail);
  FrameStatus next_content_length(std::string* body, std::string* detail);
  // Reads one header line (without CR LF) bounded by max_header_bytes. Returns 1 on a line,
  // 0 at end of stream before any byte, -1 on end of stream mid-line, -2 if too long (the rest
  // of the line is consumed).
  int read_header_line(std::string* line);

  ByteSource& src_;
  Framing framing_;
  Limits limits_;
  std::unique_ptr<char[]> buf_;
  size_t beg_ = 0, end_ = 0;
  bool ended_ = false, failed_ = false, done_ = false;
  // A "Content-Length:" line that followed lines of no header: the start of the next frame,
  // read again by the next call once the broken block before it has been reported.
  std::string pending_line_;
  bool has_pending_ = false;
};

// Serialises frames onto a sink; one frame is written atomically with respect to other
// writers. Returns false (and stays false) once the sink failed.
class FrameWriter {
 public:
  FrameWriter(ByteSink& sink, Framing framing) : sink_(sink), framing_(framing) {}
  bool write(std::string_view body);
  bool ok() const;
  std::string error() const;  // the sink's error once a write failed, else ""

 private:
  ByteSink& sink_;
  Framing framing_;
  mutable std::mutex mu_;
  bool ok_ = true;
};

}  // namespace ripvec::jsonrpc
