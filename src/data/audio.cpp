// WAV reading and writing, resampling, the MFCC front end, and the character alphabet for CTC.
#include "plumb/audio.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>

#include "plumb/error.h"
#include "plumb/file_io.h"

namespace plumb::audio {

namespace {

constexpr uint16_t kFormatPcm = 1, kFormatFloat = 3, kFormatExtensible = 0xFFFE;

uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

std::string format_name(uint16_t tag) {
  switch (tag) {
    case 2: return "2 (Microsoft ADPCM)";
    case 6: return "6 (A-law)";
    case 7: return "7 (mu-law)";
    case 0x11: return "0x11 (IMA ADPCM)";
    case 0x55: return "0x55 (MPEG layer 3)";
    default: return std::to_string(tag);
  }
}

int bits_of(SampleFormat f) {
  switch (f) {
    case SampleFormat::pcm8: return 8;
    case SampleFormat::pcm16: return 16;
    case SampleFormat::pcm24: return 24;
    case SampleFormat::pcm32: return 32;
    case SampleFormat::f32: return 32;
  }
  return 16;
}

// One sample at p as a float in [-1, 1].
float sample_at(const uint8_t* p, SampleFormat f) {
  switch (f) {
    case SampleFormat::pcm8: return (static_cast<float>(p[0]) - 128.0f) / 128.0f;
    case SampleFormat::pcm16: return static_cast<float>(static_cast<int16_t>(u16(p))) / 32768.0f;
    case SampleFormat::pcm24: {
      const int32_t v = static_cast<int32_t>(static_cast<uint32_t>(p[0]) << 8 | static_cast<uint32_t>(p[1]) << 16 |
                                             static_cast<uint32_t>(p[2]) << 24) >>
                        8;
      return static_cast<float>(v) / 8388608.0f;
    }
    case SampleFormat::pcm32:
      return static_cast<float>(static_cast<double>(static_cast<int32_t>(u32(p))) / 2147483648.0);
    case SampleFormat::f32: {
      float v;
      const uint32_t bits = u32(p);
      std::memcpy(&v, &bits, 4);
      return std::isfinite(v) ? std::clamp(v, -1.0f, 1.0f) : 0.0f;
    }
  }
  return 0;
}

void put_le(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

Wave decode_wav(std::span<const uint8_t> b, const std::string& name) {
  const auto bad = [&](const auto&... what) { fail("wav: ", name, ": ", what...); };
  if (b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) != 0 || std::memcmp(b.data() + 8, "WAVE", 4) != 0)
    bad("not a RIFF/WAVE file");
  Wave w;
  bool have_fmt = false;
  int block_align = 0;
  size_t pos = 12;
  while (pos + 8 <= b.size()) {
    const uint8_t* chunk = b.data() + pos;
    const uint64_t size = u32(chunk + 4);
    const size_t body = pos + 8;
    const size_t left = b.size() - body;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (size < 16 || left < 16) bad("fmt chunk too short (", std::min<uint64_t>(size, left), " bytes, need 16)");
      const uint8_t* f = b.data() + body;
      uint16_t tag = u16(f);
      const int channels = u16(f + 2);
      const uint32_t rate = u32(f + 4);
      block_align = u16(f + 12);
      const int bits = u16(f + 14);
      if (tag == kFormatExtensible) {
        if (size < 26 || left < 26) bad("WAVE_FORMAT_EXTENSIBLE fmt chunk too short");
        tag = u16(f + 24);  // the sub-format GUID starts with the format tag
      }
      if (tag != kFormatPcm && tag != kFormatFloat)
        bad("format tag ", format_name(tag), " is not supported (only integer PCM, tag 1, and IEEE float, tag 3)");
      if (channels < 1) bad("channel count is 0");
      if (rate < 1 || rate > 1'000'000) bad("sample rate ", rate, " Hz is out of range");
      if (tag == kFormatFloat) {
        if (bits != 32) bad("IEEE float samples of ", bits, " bits are not supported (only 32)");
        w.format = SampleFormat::f32;
      } else if (bits == 8) {
        w.format = SampleFormat::pcm8;
      } else if (bits == 16) {
        w.format = SampleFormat::pcm16;
      } else if (bits == 24) {
        w.format = SampleFormat::pcm24;
      } else if (bits == 32) {
        w.format = SampleFormat::pcm32;
      } else {
        bad("PCM samples of ", bits, " bits are not supported (8, 16, 24 or 32)");
      }
      if (block_align != channels * bits / 8)
        bad("block align ", block_align, " does not match ", channels, " channels of ", bits, " bits");
      w.channels = channels;
      w.sample_rate = static_cast<int>(rate);
      have_fmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (!have_fmt) bad("data chunk before the fmt chunk (or no fmt chunk)");
      if (size > left) bad("truncated: the data chunk declares ", size, " bytes but only ", left, " follow");
      if (size % static_cast<uint64_t>(block_align) != 0)
        bad("data chunk of ", size, " bytes is not a whole number of ", block_align, "-byte frames");
      const int64_t frames = static_cast<int64_t>(size / static_cast<uint64_t>(block_align));
      const int bytes = bits_of(w.format) / 8;
      w.samples.resize(static_cast<size_t>(frames));
      const uint8_t* d = b.data() + body;
      for (int64_t i = 0; i < frames; ++i) {
        float s = 0;
        for (int c = 0; c < w.channels; ++c) s += sample_at(d + (i * w.channels + c) * bytes, w.format);
        w.samples[static_cast<size_t>(i)] = s / static_cast<float>(w.channels);
      }
      return w;
    }
    if (size > left) break;          // a chunk running past the end: report what is missing below
    pos = body + size + (size & 1);  // chunks are padded to even sizes
  }
  fail("wav: ", name, ": ", have_fmt ? "no data chunk" : "no fmt chunk");
}

Wave read_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("wav: cannot open '", path, "'");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("wav: cannot read '", path, "'");
  return decode_wav(bytes, path);
}

void write_wav(const std::string& path, std::span<const float> interleaved, int sample_rate, int channels,
               SampleFormat format) {
  if (channels < 1) fail("wav: ", path, ": channels must be >= 1, got ", channels);
  if (sample_rate < 1) fail("wav: ", path, ": sample rate must be >= 1, got ", sample_rate);
  if (interleaved.size() % static_cast<size_t>(channels) != 0)
    fail("wav: ", path, ": ", interleaved.size(), " samples is not a multiple of ", channels, " channels");
  const int bits = bits_of(format), bytes = bits / 8;
  const uint64_t data_size = interleaved.size() * static_cast<uint64_t>(bytes);
  if (data_size > 0xFFFF'FFFFull - 36) fail("wav: ", path, ": too many samples for one WAV file");
  std::vector<uint8_t> out;
  out.reserve(44 + data_size);
  out.insert(out.end(), {'R', 'I', 'F', 'F'});
  put_le(out, 36 + data_size, 4);
  out.insert(out.end(), {'W', 'A', 'V', 'E', 'f', 'm', 't', ' '});
  put_le(out, 16, 4);
  put_le(out, format == SampleFormat::f32 ? kFormatFloat : kFormatPcm, 2);
  put_le(out, static_cast<uint64_t>(channels), 2);
  put_le(out, static_cast<uint64_t>(sample_rate), 4);
  put_le(out, static_cast<uint64_t>(sample_rate) * channels * bytes, 4);
  put_le(out, static_cast<uint64_t>(channels * bytes), 2);
  put_le(out, static_cast<uint64_t>(bits), 2);
  out.insert(out.end(), {'d', 'a', 't', 'a'});
  put_le(out, data_size, 4);
  for (float v : interleaved) {
    const double s = std::isfinite(v) ? std::clamp(static_cast<double>(v), -1.0, 1.0) : 0.0;
    switch (format) {
      case SampleFormat::pcm8: put_le(out, static_cast<uint64_t>(std::lround(s * 127.0) + 128), 1); break;
      case SampleFormat::pcm16: put_le(out, static_cast<uint64_t>(std::lround(s * 32767.0)), 2); break;
      case SampleFormat::pcm24: put_le(out, static_cast<uint64_t>(std::lround(s * 8388607.0)), 3); break;
      case SampleFormat::pcm32: put_le(out, static_cast<uint64_t>(std::llround(s * 2147483647.0)), 4); break;
      case SampleFormat::f32: {
        const float f = static_cast<float>(s);
        uint32_t u;
        std::memcpy(&u, &f, 4);
        put_le(out, u, 4);
        break;
      }
    }
  }
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(out.data()), out.size()));
}

std::vector<float> resample(std::span<const float> x, int from_rate, int to_rate) {
  if (from_rate < 1 || to_rate < 1) fail("resample: rates must be >= 1, got ", from_rate, " and ", to_rate);
  if (from_rate == to_rate || x.empty()) return {x.begin(), x.end()};
  const double ratio = static_cast<double>(to_rate) / from_rate;
  const double cutoff = std::min(1.0, ratio);  // of the input Nyquist frequency
  constexpr int kZeros = 16;                   // sinc zero crossings each side
  const double half = kZeros / cutoff;         // half width in input samples
  const auto n_out = static_cast<int64_t>(std::floor(static_cast<double>(x.size()) * ratio));
  const auto n_in = static_cast<int64_t>(x.size());
  std::vector<float> y(static_cast<size_t>(n_out));
  for (int64_t j = 0; j < n_out; ++j) {
    const double t = static_cast<double>(j) / ratio;  // position in input samples
    const auto lo = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(t - half)));
    const auto hi = std::min<int64_t>(n_in - 1, static_cast<int64_t>(std::floor(t + half)));
    double acc = 0;
    for (int64_t k = lo; k <= hi; ++k) {
      const double d = t - static_cast<double>(k);
      const double a = d * cutoff * std::numbers::pi;
      const double sinc = std::abs(a) < 1e-12 ? 1.0 : std::sin(a) / a;
      const double window = 0.5 + 0.5 * std::cos(std::numbers::pi * d / half);  // Hann
      acc += x[static_cast<size_t>(k)] * cutoff * sinc * window;
    }
    y[static_cast<size_t>(j)] = static_cast<float>(acc);
  }
  return y;
}

// ---- MFCC ----

void fft(std::vector<std::complex<double>>& x) {
  const size_t n = x.size();
  if (n == 0 || (n & (n - 1)) != 0) fail("fft: size must be a power of two, got ", n);
  for (size_t i = 1, j = 0; i < n; ++i) {  // bit-reversal permutation
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(x[i], x[j]);
  }
  for (size_t len = 2; len <= n; len <<= 1) {
    const double angle = -2 * std::numbers::pi / static_cast<double>(len);
    const std::complex<double> w_len(std::cos(angle), std::sin(angle));
    for (size_t i = 0; i < n; i += len) {
      std::complex<double> w(1, 0);
      for (size_t k = 0; k < len / 2; ++k) {
        const std::complex<double> u = x[i + k], v = x[i + k + len / 2] * w;
        x[i + k] = u + v;
        x[i + k + len / 2] = u - v;
        w *= w_len;
      }
    }
  }
}

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

std::vector<double> mel_filterbank(int num_filters, int nfft, int sample_rate, double low_hz, double high_hz) {
  if (num_filters < 1) fail("mfcc: num_filters must be >= 1, got ", num_filters);
  if (nfft < 2) fail("mfcc: FFT size must be >= 2, got ", nfft);
  if (high_hz <= 0) high_hz = sample_rate / 2.0;
  if (!(low_hz >= 0 && low_hz < high_hz && high_hz <= sample_rate / 2.0))
    fail("mfcc: filter bank range ", low_hz, "..", high_hz, " Hz must lie in 0..", sample_rate / 2.0, " Hz");
  const int bins = nfft / 2 + 1;
  const double lo = hz_to_mel(low_hz), hi = hz_to_mel(high_hz);
  std::vector<double> edges(static_cast<size_t>(num_filters) + 2);  // in Hz
  for (size_t i = 0; i < edges.size(); ++i)
    edges[i] = mel_to_hz(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(num_filters + 1));
  std::vector<double> w(static_cast<size_t>(num_filters) * bins, 0.0);
  for (int m = 0; m < num_filters; ++m) {
    const double l = edges[m], c = edges[m + 1], r = edges[m + 2];
    for (int k = 0; k < bins; ++k) {
      const double f = static_cast<double>(k) * sample_rate / nfft;
      const double v = std::min((f - l) / (c - l), (r - f) / (r - c));
      w[static_cast<size_t>(m) * bins + k] = std::max(0.0, v);
    }
  }
  return w;
}

MfccOptions fathom_mfcc_options(int sample_rate) {
  MfccOptions o;
  o.sample_rate = sample_rate;
  o.frame_ms = 5;
  o.hop_ms = 5;
  o.energy = Energy::rms;
  o.delta_width = 4;
  return o;
}

Features append_deltas(const Features& f, int width) {
  if (width < 1) fail("mfcc: delta width must be >= 1, got ", width);
  Features out;
  out.frames = f.frames;
  out.dims = f.dims * 2;
  out.values.resize(static_cast<size_t>(out.frames * out.dims));
  double denom = 0;
  for (int n = 1; n <= width; ++n) denom += 2.0 * n * n;
  for (int64_t t = 0; t < f.frames; ++t)
    for (int64_t d = 0; d < f.dims; ++d) {
      double acc = 0;
      for (int n = 1; n <= width; ++n) {
        const int64_t ahead = std::min(t + n, f.frames - 1), behind = std::max<int64_t>(t - n, 0);
        acc += n * (static_cast<double>(f.at(ahead, d)) - f.at(behind, d));
      }
      out.values[static_cast<size_t>(t * out.dims + d)] = f.at(t, d);
      out.values[static_cast<size_t>(t * out.dims + f.dims + d)] = static_cast<float>(acc / denom);
    }
  return out;
}

void standardize(Features& f) {
  if (f.frames == 0) return;
  for (int64_t d = 0; d < f.dims; ++d) {
    double s = 0, ss = 0;
    for (int64_t t = 0; t < f.frames; ++t) s += f.at(t, d);
    const double m = s / static_cast<double>(f.frames);
    for (int64_t t = 0; t < f.frames; ++t) ss += (f.at(t, d) - m) * (f.at(t, d) - m);
    const double sd = std::sqrt(ss / static_cast<double>(f.frames));
    const double inv = sd > 1e-12 ? 1.0 / sd : 1.0;  // sklearn keeps a zero-variance scale at 1
    for (int64_t t = 0; t < f.frames; ++t) {
      float& v = f.values[static_cast<size_t>(t * f.dims + d)];
      v = static_cast<float>((v - m) * inv);
    }
  }
}

Features mfcc(std::span<const float> samples, const MfccOptions& o) {
  if (o.sample_rate < 1) fail("mfcc: sample rate must be >= 1, got ", o.sample_rate);
  const auto frame_len = static_cast<int64_t>(std::lround(o.frame_ms * o.sample_rate / 1000.0));
  const auto hop = static_cast<int64_t>(std::lround(o.hop_ms * o.sample_rate / 1000.0));
  if (frame_len < 2 || hop < 1)
    fail("mfcc: frame ", o.frame_ms, " ms and hop ", o.hop_ms, " ms give ", frame_len, " and ", hop, " samples at ",
         o.sample_rate, " Hz (need >= 2 and >= 1)");
  if (o.num_coeffs < 1 || o.num_coeffs > o.num_filters)
    fail("mfcc: num_coeffs must be in 1..num_filters (", o.num_filters, "), got ", o.num_coeffs);
  if (o.delta_width < 0) fail("mfcc: delta_width must be >= 0, got ", o.delta_width);
  if (samples.empty()) fail("mfcc: no samples");
  int nfft = 1;
  while (nfft < frame_len) nfft <<= 1;
  const int bins = nfft / 2 + 1;
  const std::vector<double> bank = mel_filterbank(o.num_filters, nfft, o.sample_rate, o.low_hz, o.high_hz);

  const auto n = static_cast<int64_t>(samples.size());
  std::vector<double> emph(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    emph[static_cast<size_t>(i)] =
        samples[static_cast<size_t>(i)] - (i > 0 ? o.pre_emphasis * samples[static_cast<size_t>(i - 1)] : 0.0);
  const int64_t frames = n <= frame_len ? 1 : 1 + (n - frame_len + hop - 1) / hop;

  std::vector<double> window(static_cast<size_t>(frame_len));
  for (int64_t i = 0; i < frame_len; ++i)
    window[static_cast<size_t>(i)] =
        0.54 - 0.46 * std::cos(2 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(frame_len - 1));
  // DCT-II, orthonormal: c_k = s_k sum_m x_m cos(pi k (m + 0.5) / M), s_0 = sqrt(1/M), s_k = sqrt(2/M).
  const int M = o.num_filters;
  std::vector<double> dct(static_cast<size_t>(o.num_coeffs) * M);
  for (int k = 0; k < o.num_coeffs; ++k)
    for (int m = 0; m < M; ++m)
      dct[static_cast<size_t>(k) * M + m] =
          std::sqrt((k == 0 ? 1.0 : 2.0) / M) * std::cos(std::numbers::pi * k * (m + 0.5) / M);

  Features f;
  f.frames = frames;
  f.dims = o.num_coeffs;
  f.values.resize(static_cast<size_t>(frames * o.num_coeffs));
  std::vector<std::complex<double>> buf(static_cast<size_t>(nfft));
  std::vector<double> power(static_cast<size_t>(bins)), logmel(static_cast<size_t>(M));
  for (int64_t t = 0; t < frames; ++t) {
    const int64_t start = t * hop;
    double energy = 0;
    std::fill(buf.begin(), buf.end(), std::complex<double>(0, 0));
    for (int64_t i = 0; i < frame_len; ++i) {
      const int64_t s = start + i;
      if (s >= n) break;
      const double raw = samples[static_cast<size_t>(s)];
      energy += raw * raw;
      buf[static_cast<size_t>(i)] = emph[static_cast<size_t>(s)] * window[static_cast<size_t>(i)];
    }
    fft(buf);
    for (int k = 0; k < bins; ++k) power[static_cast<size_t>(k)] = std::norm(buf[static_cast<size_t>(k)]) / nfft;
    for (int m = 0; m < M; ++m) {
      double e = 0;
      for (int k = 0; k < bins; ++k) e += bank[static_cast<size_t>(m) * bins + k] * power[static_cast<size_t>(k)];
      logmel[static_cast<size_t>(m)] = std::log(std::max(e, 1e-10));
    }
    for (int k = 0; k < o.num_coeffs; ++k) {
      double c = 0;
      for (int m = 0; m < M; ++m) c += dct[static_cast<size_t>(k) * M + m] * logmel[static_cast<size_t>(m)];
      f.values[static_cast<size_t>(t * o.num_coeffs + k)] = static_cast<float>(c);
    }
    // The frame's RMS over the raw samples, as librosa's rmse (a zero-padded tail counts as zeros).
    const double rms = std::sqrt(energy / static_cast<double>(frame_len));
    if (o.energy == Energy::rms) f.values[static_cast<size_t>(t * o.num_coeffs)] = static_cast<float>(rms);
    if (o.energy == Energy::log_rms)
      f.values[static_cast<size_t>(t * o.num_coeffs)] = static_cast<float>(std::log(std::max(rms, 1e-10)));
  }
  if (o.delta_width > 0) f = append_deltas(f, o.delta_width);
  if (o.standardize) standardize(f);
  return f;
}

// ---- characters ----

std::vector<int64_t> encode_text(std::string_view text) {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ')
      ids.push_back(1);
    else if (c >= 'a' && c <= 'z')
      ids.push_back(2 + (c - 'a'));
    else if (c >= 'A' && c <= 'Z')
      ids.push_back(2 + (c - 'A'));
    else if (c == '\'')
      ids.push_back(28);
    else
      fail("speech: character '", c, "' (byte ", static_cast<int>(static_cast<unsigned char>(c)), ") at ", i, " of \"",
           text, "\" is not in the alphabet (a-z, space, apostrophe)");
  }
  return ids;
}

std::string decode_labels(std::span<const int64_t> ids) {
  std::string s;
  s.reserve(ids.size());
  for (int64_t id : ids) {
    if (id == 1)
      s += ' ';
    else if (id >= 2 && id <= 27)
      s += static_cast<char>('a' + (id - 2));
    else if (id == 28)
      s += '\'';
    else
      fail("speech: label ", id, " is not a character (1..28; 0 is the blank)");
  }
  return s;
}

int64_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<int64_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

double char_error_rate(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  if (hypotheses.size() != references.size())
    fail("char_error_rate: ", hypotheses.size(), " hypotheses for ", references.size(), " references");
  int64_t edits = 0, chars = 0;
  for (size_t i = 0; i < references.size(); ++i) {
    edits += edit_distance(hypotheses[i], references[i]);
    chars += static_cast<int64_t>(references[i].size());
  }
  if (chars == 0) return edits == 0 ? 0.0 : 1.0;
  return static_cast<double>(edits) / static_cast<double>(chars);
}

}  // namespace plumb::audio
