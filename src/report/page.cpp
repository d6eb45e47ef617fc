// The report page: report.html with its placeholders filled in one pass (inserted text is never
// scanned again, so a "{{" inside a library cannot be mistaken for a placeholder).
#include "report/page.h"

#include <cctype>
#include <map>

#include "core/embedded.h"
#include "plumb/error.h"

PLUMB_DECLARE_EMBEDDED(report_vega_js);
PLUMB_DECLARE_EMBEDDED(report_vega_lite_js);
PLUMB_DECLARE_EMBEDDED(report_vega_embed_js);
PLUMB_DECLARE_EMBEDDED(report_page_html);
PLUMB_DECLARE_EMBEDDED(report_page_js);
PLUMB_DECLARE_EMBEDDED(report_page_css);

namespace plumb::report::detail {

namespace {

bool starts_with_nocase(std::string_view s, size_t at, std::string_view prefix) {
  if (s.size() - at < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[at + i])) != prefix[i]) return false;
  return true;
}

}  // namespace

std::string escape_script(std::string_view js) {
  std::string out;
  out.reserve(js.size() + 64);
  size_t i = 0;
  while (i < js.size()) {
    // A source-map comment alone on its line: dropped with its line break.
    if ((i == 0 || js[i - 1] == '\n') && js.substr(i).starts_with("//# sourceMappingURL=")) {
      const size_t eol = js.find('\n', i);
      i = eol == std::string_view::npos ? js.size() : eol + 1;
      continue;
    }
    if (js[i] == '<' && (starts_with_nocase(js, i, "</script") || js.substr(i).starts_with("<!--"))) {
      out += '<';
      out += '\\';
      ++i;
      continue;
    }
    out += js[i++];
  }
  return out;
}

std::string escape_json_for_script(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 16);
  for (char c : json) {
    // In valid JSON these three only occur inside strings, where \u escapes mean the same.
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else out += c;
  }
  return out;
}

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_page(std::string_view data_json, std::string_view title, std::string_view version) {
  const std::map<std::string, std::string, std::less<>> values = {
      {"TITLE", escape_html(title)},
      {"VERSION", version.empty() ? std::string() : " " + escape_html(version)},  // "plumb 0.1.0"
      {"CSS", std::string(PLUMB_EMBEDDED(report_page_css))},
      {"VEGA_JS", escape_script(PLUMB_EMBEDDED(report_vega_js))},
      {"VEGA_LITE_JS", escape_script(PLUMB_EMBEDDED(report_vega_lite_js))},
      {"VEGA_EMBED_JS", escape_script(PLUMB_EMBEDDED(report_vega_embed_js))},
      {"REPORT_JS", escape_script(PLUMB_EMBEDDED(report_page_js))},
      {"DATA", escape_json_for_script(data_json)},
  };
  const std::string_view page = PLUMB_EMBEDDED(report_page_html);
  std::string out;
  size_t size = page.size();
  for (const auto& [k, v] : values) size += v.size();
  out.reserve(size);
  size_t i = 0;
  while (i < page.size()) {
    const size_t open = page.find("{{", i);
    if (open == std::string_view::npos) {
      out.append(page.substr(i));
      break;
    }
    out.append(page.substr(i, open - i));
    const size_t close = page.find("}}", open + 2);
    if (close == std::string_view::npos) fail("report page template: unclosed placeholder");
    const std::string_view name = page.substr(open + 2, close - open - 2);
    const auto it = values.find(name);
    if (it == values.end()) fail("report page template: unknown placeholder {{", name, "}}");
    out.append(it->second);
    i = close + 2;
  }
  return out;
}

}  // namespace plumb::report::detail
