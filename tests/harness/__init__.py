"""Real components for the tests: a Docker engine, an SSH server, AWS's API (moto_server)."""
