"""Test-wide settings: files written by a test are complete, so they need no settle time."""

import os


def pytest_configure(config) -> None:
    # commands started by tests (subprocesses) read the landing zone without waiting 60 s
    os.environ["FLEXPOWER_MIN_FILE_AGE_S"] = "0"
