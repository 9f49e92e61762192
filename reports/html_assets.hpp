#pragma once
// The HTML page's style sheet and script: reports/html/style.css and script.js as they were at
// build time (compiled in by cmake/embed.cmake), pasted into every page.

namespace opbench::reports::html {

extern const char* const kStyleCss;  // reports/html/style.css
extern const char* const kScriptJs;  // reports/html/script.js

}  // namespace opbench::reports::html
