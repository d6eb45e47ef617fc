# The report's page assets and charting libraries, compiled into the library (the report opens offline).
# The libraries come from web/node_modules, which scripts/setup.sh installs from web/package-lock.json.
set(PLUMB_WEB_MODULES ${PROJECT_SOURCE_DIR}/web/node_modules)
plumb_embed(plumb report_vega_js ${PLUMB_WEB_MODULES}/vega/build/vega.min.js)
plumb_embed(plumb report_vega_lite_js ${PLUMB_WEB_MODULES}/vega-lite/build/vega-lite.min.js)
plumb_embed(plumb report_vega_embed_js ${PLUMB_WEB_MODULES}/vega-embed/build/vega-embed.min.js)
plumb_embed(plumb report_page_html ${CMAKE_CURRENT_LIST_DIR}/web/report.html)
plumb_embed(plumb report_page_js ${CMAKE_CURRENT_LIST_DIR}/web/report.js)
plumb_embed(plumb report_page_css ${CMAKE_CURRENT_LIST_DIR}/web/report.css)
