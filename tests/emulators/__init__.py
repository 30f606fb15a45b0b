"""Real object-store servers for the tests, each started on a free 127.0.0.1 port.

Every launcher is a context manager yielding an :class:`Emulator`; a server that cannot start
raises ``EmulatorError`` with its log tail and what to install, so a test never skips.
"""

from tests.emulators.process import Emulator, EmulatorError

__all__ = ["Emulator", "EmulatorError"]
