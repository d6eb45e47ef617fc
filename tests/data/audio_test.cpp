// WAV reading and writing, resampling, the FFT, the mel filter bank, MFCCs and the CTC alphabet.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <numbers>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "common/error_of.h"
#include "plumb/audio.h"
#include "plumb/error.h"

namespace plumb {
namespace {

using audio::SampleFormat;
using testing::TempDirTest;

std::vector<float> tone(double hz, double amplitude, int rate, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    x[static_cast<size_t>(i)] = static_cast<float>(amplitude * std::sin(2 * std::numbers::pi * hz * i / rate));
  return x;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

using testing::error_of;

class Wav : public TempDirTest {};

TEST_F(Wav, RoundTripsEveryFormat) {
  const std::vector<float> x = {0.0f, 0.5f, -0.5f, 0.25f, -1.0f, 0.999f};
  const struct {
    SampleFormat format;
    double tolerance;
  } cases[] = {{SampleFormat::pcm8, 1.0 / 64},
               {SampleFormat::pcm16, 1e-4},
               {SampleFormat::pcm24, 1e-6},
               {SampleFormat::pcm32, 1e-6},
               {SampleFormat::f32, 0}};
  for (const auto& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.format));
    audio::write_wav(path("a.wav"), x, 22050, 1, c.format);
    const audio::Wave w = audio::read_wav(path("a.wav"));
    EXPECT_EQ(w.sample_rate, 22050);
    EXPECT_EQ(w.channels, 1);
    EXPECT_EQ(w.format, c.format);
    ASSERT_EQ(w.samples.size(), x.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(w.samples[i], x[i], c.tolerance + 1e-7) << i;
  }
}

// A 16-bit header written by hand (44 bytes, as espeak-ng writes them): the reader takes a file it did
// not write, sample values included.
TEST_F(Wav, ReadsAHandWrittenHeader) {
  std::vector<uint8_t> b = {'R', 'I', 'F', 'F', 40,  0,   0,   0,   'W',  'A',  'V', 'E', 'f',  'm',  't',  ' ',
                            16,  0,   0,   0,   1,   0,   1,   0,   0x40, 0x1F, 0,   0,   0x80, 0x3E, 0,    0,
                            2,   0,   16,  0,   'd', 'a', 't', 'a', 4,    0,    0,   0,   0x00, 0x40, 0x00, 0xC0};
  write_bytes(path("h.wav"), b);
  const audio::Wave w = audio::read_wav(path("h.wav"));
  EXPECT_EQ(w.sample_rate, 8000);
  ASSERT_EQ(w.samples.size(), 2u);
  EXPECT_FLOAT_EQ(w.samples[0], 0.5f);   // 0x4000 = 16384
  EXPECT_FLOAT_EQ(w.samples[1], -0.5f);  // 0xC000 = -16384
}

// WAVE_FORMAT_EXTENSIBLE: the format is the first two bytes of the sub-format GUID after the
// 16 standard bytes, cbSize, valid bits and the channel mask.
std::vector<uint8_t> extensible(uint8_t sub_format) {
  std::vector<uint8_t> b = {'R', 'I', 'F', 'F', 64, 0, 0, 0, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ', 40, 0, 0, 0,
                            0xFE, 0xFF, 1, 0, 0x40, 0x1F, 0, 0, 0x80, 0x3E, 0, 0, 2, 0, 16, 0, 22, 0, 16, 0,
                            4, 0, 0, 0, sub_format, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
                            'd', 'a', 't', 'a', 4, 0, 0, 0, 0x00, 0x20, 0x00, 0xE0};
  return b;
}

TEST(WavBytes, ReadsWaveFormatExtensible) {
  const audio::Wave w = audio::decode_wav(extensible(1), "ext.wav");
  ASSERT_EQ(w.samples.size(), 2u);
  EXPECT_FLOAT_EQ(w.samples[0], 0.25f);
  EXPECT_FLOAT_EQ(w.samples[1], -0.25f);
  const std::string e = error_of([] { audio::decode_wav(extensible(2), "ext.wav"); });
  EXPECT_NE(e.find("wav: ext.wav: format tag 2 (Microsoft ADPCM) is not supported"), std::string::npos) << e;
}

TEST_F(Wav, MixesChannelsToMono) {
  const std::vector<float> stereo = {0.5f, -0.1f, 1.0f, 0.0f, -0.4f, -0.4f};  // L R L R L R
  audio::write_wav(path("s.wav"), stereo, 16000, 2, SampleFormat::f32);
  const audio::Wave w = audio::read_wav(path("s.wav"));
  EXPECT_EQ(w.channels, 2);
  ASSERT_EQ(w.samples.size(), 3u);
  EXPECT_NEAR(w.samples[0], 0.2f, 1e-6);
  EXPECT_NEAR(w.samples[1], 0.5f, 1e-6);
  EXPECT_NEAR(w.samples[2], -0.4f, 1e-6);
}

TEST_F(Wav, WritesAtomicallyAndOverwrites) {
  audio::write_wav(path("o.wav"), std::vector<float>(10, 0.1f), 16000);
  audio::write_wav(path("o.wav"), std::vector<float>(3, 0.2f), 16000);
  EXPECT_EQ(audio::read_wav(path("o.wav")).samples.size(), 3u);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);  // no temporary left behind
}

TEST_F(Wav, RejectsNonPcm) {
  audio::write_wav(path("adpcm.wav"), std::vector<float>(8, 0.0f), 16000);
  std::vector<uint8_t> b = read_bytes(path("adpcm.wav"));
  b[20] = 2;  // format tag 2: Microsoft ADPCM
  write_bytes(path("adpcm.wav"), b);
  const std::string e = error_of([&] { audio::read_wav(path("adpcm.wav")); });
  EXPECT_NE(e.find(path("adpcm.wav")), std::string::npos) << e;
  EXPECT_NE(e.find("format tag 2"), std::string::npos) << e;
  EXPECT_NE(e.find("not supported"), std::string::npos) << e;
}

TEST_F(Wav, RejectsTruncatedData) {
  audio::write_wav(path("t.wav"), std::vector<float>(100, 0.3f), 16000);
  std::vector<uint8_t> b = read_bytes(path("t.wav"));
  b.resize(b.size() - 50);  // the data chunk still declares 200 bytes
  write_bytes(path("t.wav"), b);
  const std::string e = error_of([&] { audio::read_wav(path("t.wav")); });
  EXPECT_NE(e.find(path("t.wav")), std::string::npos) << e;
  EXPECT_NE(e.find("truncated: the data chunk declares 200 bytes but only 150 follow"), std::string::npos) << e;
}

TEST_F(Wav, RejectsBadHeaders) {
  write_bytes(path("x.wav"), {'R', 'I', 'F', 'X', 0, 0, 0, 0, 'W', 'A', 'V', 'E'});
  EXPECT_NE(error_of([&] { audio::read_wav(path("x.wav")); }).find("not a RIFF/WAVE file"), std::string::npos);
  write_bytes(path("short.wav"), {'R', 'I', 'F'});
  EXPECT_NE(error_of([&] { audio::read_wav(path("short.wav")); }).find("not a RIFF/WAVE file"), std::string::npos);
  write_bytes(path("nofmt.wav"), {'R', 'I', 'F', 'F', 12, 0, 0, 0, 'W', 'A', 'V', 'E', 'd', 'a', 't', 'a', 0, 0, 0, 0});
  EXPECT_NE(error_of([&] { audio::read_wav(path("nofmt.wav")); }).find("no fmt chunk"), std::string::npos);
  // 12-bit PCM
  audio::write_wav(path("b12.wav"), std::vector<float>(4, 0.0f), 16000);
  std::vector<uint8_t> b = read_bytes(path("b12.wav"));
  b[34] = 12;
  write_bytes(path("b12.wav"), b);
  EXPECT_NE(error_of([&] { audio::read_wav(path("b12.wav")); }).find("12 bits"), std::string::npos);
  EXPECT_NE(error_of([&] { audio::read_wav(path("missing.wav")); }).find("cannot open"), std::string::npos);
}

TEST(Resample, KeepsFrequencyAndAmplitude) {
  const std::vector<float> x = tone(440, 0.5, 22050, 22050);  // 1 s
  const std::vector<float> y = audio::resample(x, 22050, 16000);
  EXPECT_EQ(y.size(), 16000u);
  // 440 Hz: 880 sign changes a second; amplitude 0.5 away from the edges.
  int crossings = 0;
  float peak = 0;
  for (size_t i = 1000; i < 15000; ++i) {
    crossings += (y[i - 1] < 0) != (y[i] < 0);
    peak = std::max(peak, std::abs(y[i]));
  }
  EXPECT_NEAR(crossings, 880 * 14000 / 16000, 3);
  EXPECT_NEAR(peak, 0.5, 0.01);
  // Above the new Nyquist frequency (8 kHz) a 10 kHz tone is filtered out, not aliased to 6 kHz.
  const std::vector<float> high = audio::resample(tone(10000, 0.5, 22050, 22050), 22050, 16000);
  double rms = 0;
  for (size_t i = 1000; i < 15000; ++i) rms += high[i] * high[i];
  EXPECT_LT(std::sqrt(rms / 14000), 0.02);
}

TEST(Fft, MatchesTheDefinitionOfTheDft) {
  const int n = 64;
  std::vector<std::complex<double>> x(n);
  for (int i = 0; i < n; ++i) x[i] = {std::sin(0.3 * i * i + 1.0), std::cos(0.7 * i)};
  std::vector<std::complex<double>> y = x;
  audio::fft(y);
  for (int k = 0; k < n; ++k) {
    std::complex<double> ref = 0;
    for (int j = 0; j < n; ++j) ref += x[j] * std::polar(1.0, -2 * std::numbers::pi * j * k / n);
    EXPECT_NEAR(std::abs(y[k] - ref), 0, 1e-9) << k;
  }
  std::vector<std::complex<double>> bad(12);
  EXPECT_THROW(audio::fft(bad), Error);
}

TEST(MelFilterbank, TrianglesPeakAtTheirCentres) {
  const int filters = 26, nfft = 512, rate = 16000, bins = nfft / 2 + 1;
  const std::vector<double> fb = audio::mel_filterbank(filters, nfft, rate, 0, 0);
  ASSERT_EQ(fb.size(), static_cast<size_t>(filters * bins));
  const double lo = audio::hz_to_mel(0), hi = audio::hz_to_mel(8000);
  int prev_peak = -1;
  for (int m = 0; m < filters; ++m) {
    int peak = 0;
    for (int k = 0; k < bins; ++k)
      if (fb[m * bins + k] > fb[m * bins + peak]) peak = k;
    const double centre_hz = audio::mel_to_hz(lo + (hi - lo) * (m + 1) / (filters + 1));
    EXPECT_NEAR(peak * static_cast<double>(rate) / nfft, centre_hz, rate / nfft) << m;  // within a bin
    EXPECT_GT(fb[m * bins + peak], 0.5) << m;
    EXPECT_LE(fb[m * bins + peak], 1.0) << m;
    EXPECT_GT(peak, prev_peak) << m;
    prev_peak = peak;
  }
  EXPECT_NEAR(audio::mel_to_hz(audio::hz_to_mel(1234.5)), 1234.5, 1e-9);
  EXPECT_NEAR(audio::hz_to_mel(1000), 999.99, 0.01);  // HTK's scale puts 1 kHz at ~1000 mel
}

// A 1 kHz tone's power lands in the two filters around 1 kHz, most in the nearer one: filter 8 is
// centred at 921 Hz, filter 9 at 1080 Hz (numpy, with the mel edges of the reference below).
TEST(MelFilterbank, ToneEnergyLandsInItsBand) {
  const int nfft = 512, bins = nfft / 2 + 1;
  const std::vector<double> fb = audio::mel_filterbank(26, nfft, 16000, 0, 0);
  const std::vector<float> x = tone(1000, 0.5, 16000, 400);
  std::vector<std::complex<double>> buf(nfft);
  for (int i = 0; i < 400; ++i) buf[i] = x[i] * (0.54 - 0.46 * std::cos(2 * std::numbers::pi * i / 399));
  audio::fft(buf);
  std::vector<double> e(26, 0.0);
  double total = 0;
  for (int m = 0; m < 26; ++m) {
    for (int k = 0; k < bins; ++k) e[m] += fb[m * bins + k] * std::norm(buf[k]);
    total += e[m];
  }
  EXPECT_EQ(std::max_element(e.begin(), e.end()) - e.begin(), 8);
  EXPECT_GT((e[8] + e[9]) / total, 0.9);
}

// Reference: numpy, computed independently of this code (np.fft.rfft, np.hamming):
//   x = (0.5*sin(2*pi*1000*arange(1600)/16000)).astype(float32); emph = append(x[0], x[1:]-0.97*x[:-1])
//   P = |rfft(emph[:400]*hamming(400), 512)|^2/512; E = log(fb @ P) with fb the triangles between
//   mel-spaced edges linspace(mel(0), mel(8000), 28); c = D @ E with D the orthonormal DCT-II rows
//   0..12; c[0] = log(sqrt(mean(x[:400]^2))).
TEST(Mfcc, MatchesNumpyOnAToneFrame) {
  const double ref[13] = {-1.039721, 3.195123,  -7.58703,  -8.342773, -2.492166, 3.712328, 5.070816,
                          1.082697,  -3.447303, -4.048537, -0.502821, 3.118215,  3.212422};
  audio::MfccOptions o;
  o.delta_width = 0;
  o.standardize = false;
  const audio::Features f = audio::mfcc(tone(1000, 0.5, 16000, 1600), o);
  EXPECT_EQ(f.dims, 13);
  EXPECT_EQ(f.frames, 1 + (1600 - 400 + 159) / 160);  // 9: the last frame zero-padded
  for (int k = 0; k < 13; ++k) EXPECT_NEAR(f.at(0, k), ref[k], 2e-3) << k;
  // The same tone's later frames match the first up to the phase of the window.
  EXPECT_NEAR(f.at(3, 0), ref[0], 0.01);
}

TEST(Mfcc, DeltasOfAConstantAreZeroAndOfARampItsSlope) {
  audio::Features c;
  c.frames = 10;
  c.dims = 2;
  for (int t = 0; t < 10; ++t) c.values.insert(c.values.end(), {3.0f, 0.5f * t});
  const audio::Features d = audio::append_deltas(c, 2);
  ASSERT_EQ(d.dims, 4);
  for (int t = 0; t < 10; ++t) {
    EXPECT_FLOAT_EQ(d.at(t, 0), 3.0f);
    EXPECT_FLOAT_EQ(d.at(t, 2), 0.0f) << t;
    if (t >= 2 && t < 8) EXPECT_NEAR(d.at(t, 3), 0.5f, 1e-6) << t;  // interior: the exact slope
  }
  EXPECT_LT(d.at(0, 3), 0.5f);  // edges repeat the end frames, so the slope flattens there
}

TEST(Mfcc, FeaturesAreStandardizedWith26Columns) {
  std::vector<float> x = tone(300, 0.3, 16000, 16000);
  for (size_t i = 0; i < x.size(); ++i) x[i] += 0.2f * static_cast<float>(std::sin(i * 0.37) * std::sin(i * 0.0011));
  const audio::Features f = audio::mfcc(x);
  EXPECT_EQ(f.dims, 26);
  EXPECT_EQ(f.frames, 1 + (16000 - 400 + 159) / 160);
  for (int d = 0; d < 26; ++d) {
    double s = 0, ss = 0;
    for (int64_t t = 0; t < f.frames; ++t) s += f.at(t, d), ss += f.at(t, d) * f.at(t, d);
    EXPECT_NEAR(s / f.frames, 0, 1e-4) << d;
    EXPECT_NEAR(ss / f.frames, 1, 1e-3) << d;
  }
  // Fathom's 5 ms window and hop: 80 samples at 16 kHz, 200 frames a second.
  const audio::Features g = audio::mfcc(x, audio::fathom_mfcc_options(16000));
  EXPECT_EQ(g.dims, 26);
  EXPECT_EQ(g.frames, 200);
}

TEST(Mfcc, LouderFramesHaveMoreEnergy) {
  std::vector<float> x = tone(500, 0.01, 16000, 3200);
  for (size_t i = 1600; i < 3200; ++i) x[i] *= 50;
  audio::MfccOptions o;
  o.standardize = false;
  o.delta_width = 0;
  const audio::Features f = audio::mfcc(x, o);
  EXPECT_NEAR(f.at(14, 0) - f.at(2, 0), std::log(50.0), 0.05);  // log RMS grows by log 50
  o.energy = audio::Energy::rms;
  const audio::Features r = audio::mfcc(x, o);
  EXPECT_NEAR(r.at(14, 0) / r.at(2, 0), 50.0, 1.0);
}

TEST(Mfcc, RejectsBadOptions) {
  const std::vector<float> x(1000, 0.1f);
  audio::MfccOptions o;
  o.num_coeffs = 30;
  EXPECT_NE(error_of([&] { audio::mfcc(x, o); }).find("num_coeffs"), std::string::npos);
  EXPECT_NE(error_of([&] { audio::mfcc(std::vector<float>{}); }).find("no samples"), std::string::npos);
}

TEST(Alphabet, EncodesAndDecodes) {
  const std::vector<int64_t> ids = audio::encode_text("Don't stop");
  EXPECT_EQ(ids.front(), 2 + ('d' - 'a'));
  EXPECT_EQ(ids[3], 28);  // apostrophe
  EXPECT_EQ(ids[5], 1);   // space
  for (int64_t id : ids) EXPECT_NE(id, audio::kBlank);
  EXPECT_EQ(audio::decode_labels(ids), "don't stop");
  const std::string e = error_of([] { audio::encode_text("seven 7"); });
  EXPECT_NE(e.find("'7'"), std::string::npos) << e;
  EXPECT_THROW(audio::decode_labels(std::vector<int64_t>{0}), Error);
  EXPECT_THROW(audio::decode_labels(std::vector<int64_t>{29}), Error);
}

TEST(Alphabet, CharacterErrorRate) {
  EXPECT_EQ(audio::edit_distance("kitten", "sitting"), 3);
  EXPECT_EQ(audio::edit_distance("", "abc"), 3);
  EXPECT_DOUBLE_EQ(audio::char_error_rate({"one tw", "nine"}, {"one two", "nine"}), 1.0 / 11);
  EXPECT_DOUBLE_EQ(audio::char_error_rate({""}, {"four"}), 1.0);
}

}  // namespace
}  // namespace plumb
