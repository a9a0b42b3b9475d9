// The runtime face of "an architecture on a driver": the one virtual boundary of the engine.
// Below it everything is templates (Arch<D> over a Driver D); above it the pipeline works with
// host batches and F32 rows. src/pipeline/embedder.cpp picks the (architecture, driver) pair
// once at load and wraps it in an ArchEncoder.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "arch/arch_common.hpp"
#include "driver/batch.hpp"
#include "driver/driver.hpp"
#include "pipeline/batching.hpp"
#include "ripvec/model_config.hpp"
#include "ripvec/safetensors.hpp"

namespace ripvec {

class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual size_t dim() const = 0;
  virtual std::string device_name() const = 0;
  // Longest sequence the model accepts (its position table).
  virtual size_t max_positions() const = 0;
  // Sentence embeddings of one batch: out receives [B, dim] F32 rows in the batch's order,
  // pooled as configured and L2-normalized when configured.
  virtual void embed(const BatchInputs& batch, float* out) = 0;
  // embed() that may return before `out` is written, so that the host prepares the next batch
  // while the device computes this one: `out` is complete once finish() has returned and must
  // stay valid until then; `batch` is only read during the call. Errors may surface at finish().
  virtual void embed_async(const BatchInputs& batch, float* out) { embed(batch, out); }
  virtual void finish() {}
  // How many later embed_async() calls complete an earlier call's `out` without finish(): the
  // rows of call n are written once call n + async_depth() has returned (0: when embed_async
  // returns). Lets a caller hand out one group's rows while the device computes the next
  // (run_batch_groups).
  virtual size_t async_depth() const { return 0; }
  // Final hidden states of one batch: out receives [T, dim] F32 rows (packed layout).
  virtual void hidden_states(const BatchInputs& batch, float* out) = 0;
  // Drivers with reduced-precision linear layers (the CPU's INT8): exact = true runs the calls
  // that follow in the full precision until exact = false. A no-op elsewhere.
  virtual void set_exact(bool exact) { (void)exact; }
};

struct PoolingSpec {
  Pooling pooling = Pooling::Mean;
  bool normalize = false;
};

// Owns the driver, the weights file and the model. Requirements on Arch (see ClassicBert):
//   Arch(D&, const SafeTensors&, const Config&, const ArchOptions&)
//   int hidden_size() const;   int max_positions() const;
//   void ensure_scratch(const BatchShape&);
//   typename D::Tensor forward(const DeviceBatch<typename D::Tensor>&);
//   typename D::Tensor pooled(const DeviceBatch<...>&, const Tensor& hidden, Pooling, bool);
template <Driver D, class Arch>
class ArchEncoder final : public Encoder {
 public:
  using Tensor = typename D::Tensor;

  template <class Config>
  ArchEncoder(std::unique_ptr<D> driver, SafeTensors weights, const Config& cfg,
              const ArchOptions& opts, PoolingSpec pooling)
      : weights_(std::move(weights)),
        driver_(std::move(driver)),
        model_(*driver_, weights_, cfg, opts),
        pooling_(pooling) {}

  size_t dim() const override { return static_cast<size_t>(model_.hidden_size()); }
  std::string device_name() const override { return std::string(driver_->name()); }
  size_t max_positions() const override { return static_cast<size_t>(model_.max_positions()); }

  void embed(const BatchInputs& batch, float* out) override {
    run(batch, [&](const DeviceBatch<Tensor>& db) { driver_->to_host(pooled_of(db), out); });
  }

  // Drivers with to_host_async()/wait_host_copies() (CUDA) overlap batches; others run embed().
  static constexpr bool kAsync = requires(D & d, const Tensor& t, float* o) {
    d.to_host_async(t, o);
    d.wait_host_copies();
    d.discard_host_copies();
    D::kHostCopiesInFlight;
  };

  void embed_async(const BatchInputs& batch, float* out) override {
    if constexpr (kAsync) {
      run(
          batch, [&](const DeviceBatch<Tensor>& db) { driver_->to_host_async(pooled_of(db), out); },
          /*wait=*/false);
    } else {
      embed(batch, out);
    }
  }

  void finish() override {
    if constexpr (kAsync) driver_->wait_host_copies();
  }

  size_t async_depth() const override {
    if constexpr (kAsync) return D::kHostCopiesInFlight;
    return 0;
  }

  void hidden_states(const BatchInputs& batch, float* out) override {
    run(batch, [&](const DeviceBatch<Tensor>& db) { driver_->to_host(model_.forward(db), out); });
  }

  void set_exact(bool exact) override {
    if constexpr (requires(D & d) { d.set_reduced_paused(true); })
      driver_->set_reduced_paused(exact);
  }

  D& driver() { return *driver_; }
  Arch& model() { return model_; }

 private:
  Tensor pooled_of(const DeviceBatch<Tensor>& db) {
    Tensor hidden = model_.forward(db);
    return model_.pooled(db, hidden, pooling_.pooling, pooling_.normalize);
  }

  // One batch: upload, fn, then wait for the device (wait) or only submit (pipelined).
  template <class Fn>
  void run(const BatchInputs& batch, Fn&& fn, bool wait = true) {
    model_.ensure_scratch(BatchShape::of(batch));
    const size_t mark = driver_->save();
    driver_->begin_batch();
    try {
      fn(driver_->upload_batch(batch));
      if (wait)
        driver_->end_batch();
      else
        driver_->flush_batch();
    } catch (...) {
      // Leave the driver reusable: wait for whatever was enqueued, drop the temporaries. A
      // pipelined call also drops earlier batches' pending copies: their rows are abandoned
      // with the error.
      try {
        if constexpr (kAsync) {
          if (!wait) {
            driver_->discard_host_copies();
          } else {
            driver_->end_batch();
          }
        } else {
          driver_->end_batch();
        }
      } catch (...) {
      }
      driver_->restore(mark);
      throw;
    }
    driver_->restore(mark);
  }

  // Declaration order is destruction order reversed: the model goes first, then the driver
  // (which may hold views of the mapping), then the mapping.
  SafeTensors weights_;
  std::unique_ptr<D> driver_;
  Arch model_;
  PoolingSpec pooling_;
};

}  // namespace ripvec
