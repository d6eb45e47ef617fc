#pragma once
// Internals of the report page, shared with its tests: the page is a template with the data JSON,
// the page script and the charting libraries inlined.
#include <string>
#include <string_view>

namespace plumb::report::detail {

// Makes JavaScript safe inside <script>...</script>: every "</script" (any case) becomes "<\/script"
// and "<!--" becomes "<\!--" (both mean the same inside JS strings, regexes and comments), and
// source-map comments are dropped so nothing is ever fetched.
std::string escape_script(std::string_view js);
// Makes JSON safe inside <script type="application/json">: '<', '>' and '&' become \u escapes.
std::string escape_json_for_script(std::string_view json);
// Text for HTML element content and attribute values.
std::string escape_html(std::string_view text);

// The complete page for a report data JSON (the output of report_data_json).
std::string render_page(std::string_view data_json, std::string_view title, std::string_view version);

}  // namespace plumb::report::detail
