"""Makes the repository root importable for pytest (rootdir conftest)."""
