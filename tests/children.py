"""Child processes of the tests: mla-check as a user runs it on a terminal."""
import subprocess
import sys


def mla_check(*args: str, setup: str = "", **popen) -> subprocess.Popen:
    """``python -m mla_numeric.cli ARGS`` in a child whose Ctrl-C is Python's, as on a terminal: a
    child inherits an ignored SIGINT (the test session may ignore it), and Python keeps ignoring it.
    ``setup``: Python statements run first (a test's probe)."""
    start = (f"{setup}\nimport runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "sys.argv[0] = 'mla-check'; runpy.run_module('mla_numeric.cli', run_name='__main__')")
    return subprocess.Popen([sys.executable, "-c", start, *args], text=True, **popen)
