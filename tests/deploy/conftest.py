"""The demo fixture, shared by every test of the demo as a newcomer runs it."""

from tests.deploy.test_demo_verification import demo

__all__ = ["demo"]
