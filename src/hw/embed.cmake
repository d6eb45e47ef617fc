# The device table (data/devices.json) is compiled into the library; plumb::hw::device_table() parses it.
plumb_embed(plumb devices_json ${PROJECT_SOURCE_DIR}/data/devices.json)
