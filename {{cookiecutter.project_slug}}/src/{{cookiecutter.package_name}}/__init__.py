"""The project's package: data/ prepares data, model/ trains, serve/ serves. See README.md."""

__version__ = "0.1.0"
