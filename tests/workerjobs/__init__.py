"""Jobs for the worker-pool tests (tests/test_batch_safety.py), run in
``matcalc.faces.workers`` processes."""
import os
import time


def echo(value):
    return value


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def allocate(megabytes):
    return len(bytearray(megabytes * 1024 * 1024))


def die(signal):
    os.kill(os.getpid(), signal)


def fail():
    raise ValueError("a bug in the job")
