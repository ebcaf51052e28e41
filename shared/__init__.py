"""The importable core shared by every function and the plugin endpoint."""
