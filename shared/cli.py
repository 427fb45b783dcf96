"""What the Flowlab command lines share: argument types, and where their log lines go.

Logging, one scheme for every part: a program logs to the logger named after its package
(``logging.getLogger(__package__)``: ``api``, ``native_demo``, ``m2m_demo``; a Flask app's
``app.logger`` carries its package's name too), and a part that keeps a log of its own logs to
a child of it, ``<package>.<part>`` (``api.requests``, ``native_demo.loopback``,
``authserver.http``). The program's entry point gives its package logger the one handler
(:func:`log_to`), which its children's records reach.
"""

import argparse
import logging
import math
from typing import TextIO


def positive_number(text: str) -> float:
    """An argument that is a finite number greater than 0, such as a number of seconds."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError("must be a number greater than 0")
    return value


def positive_integer(text: str) -> int:
    """An argument that is a whole number of at least 1, such as a count of attempts."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def log_to(package: str, stream: TextIO, formatter: logging.Formatter) -> None:
    """Write the INFO and higher records of ``package``'s logger and its children to ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(package)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
