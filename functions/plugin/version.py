"""The plugin suite's version, reported by ServerInfo.get_version and init."""

VERSION = "0.1.0"
